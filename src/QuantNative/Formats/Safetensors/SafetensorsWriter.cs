using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace QuantNative.Formats.Safetensors;

/// <summary>A tensor to be written: its name, safetensors dtype ("F32", "I32", ...) and shape.</summary>
public sealed record SafetensorsTensorSpec(string Name, string DType, long[] Shape)
{
    public long ByteCount => Shape.Aggregate(1L, (a, b) => checked(a * b)) *
                             (SafetensorsDTypes.SizeOf(DType) ?? throw new ArgumentException($"unknown safetensors dtype {DType}"));
}

/// <summary>
/// Writes a safetensors file whose tensor list is declared up front, so the header (which precedes the data) is
/// written first and the tensors can follow one at a time without holding them all. Writes a hidden temporary file;
/// <see cref="Commit"/> renames it to <see cref="Path"/>, and Dispose without Commit deletes it.
/// </summary>
public sealed class SafetensorsWriter : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly string _tempPath;
    private readonly Dictionary<string, (SafetensorsTensorSpec Spec, long Offset)> _tensors = new();
    private readonly HashSet<string> _written = new();
    private bool _done;

    public string Path { get; }

    public SafetensorsWriter(string path, IReadOnlyList<SafetensorsTensorSpec> tensors,
                             IReadOnlyDictionary<string, string>? metadata = null)
    {
        Path = path;
        long offset = 0;
        foreach (var spec in tensors)
        {
            if (spec.Name == SafetensorsHeader.MetadataKey || !_tensors.TryAdd(spec.Name, (spec, offset)))
                throw new ArgumentException($"{path}: tensor name '{spec.Name}' is reserved or repeated");
            offset += spec.ByteCount;
        }
        byte[] header = BuildHeader(tensors, metadata);
        _tempPath = AtomicOutput.TempSibling(path);
        try
        {
            _handle = File.OpenHandle(_tempPath, FileMode.CreateNew, FileAccess.Write);
            Span<byte> length = stackalloc byte[sizeof(ulong)];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            RandomAccess.Write(_handle, length, 0);
            RandomAccess.Write(_handle, header, sizeof(ulong));
        }
        catch (Exception e)
        {
            _handle?.Dispose();
            AtomicOutput.TryDelete(_tempPath);
            throw Wrap(e);
        }
        DataStart = sizeof(ulong) + header.Length;
    }

    private long DataStart { get; }

    /// <summary>Writes tensor <paramref name="name"/> from fp32 values, converted to its declared F32/F16/BF16 dtype
    /// (rounded to nearest even).</summary>
    public void Write(string name, ReadOnlySpan<float> values)
    {
        var (spec, offset) = Find(name);
        if (!FloatDTypeExtensions.TryParseSafetensors(spec.DType, out var dtype))
            throw new ArgumentException($"{Path}: tensor '{name}' is {spec.DType}; only F32, F16 and BF16 convert from fp32");
        int size = dtype.ByteSize();
        if ((long)values.Length * size != spec.ByteCount)
            throw new ArgumentException($"{Path}: tensor '{name}' got {values.Length} values, its shape needs {spec.ByteCount / size}");
        if (dtype == FloatDType.F32)
        {
            WriteAt(MemoryMarshal.AsBytes(values), offset);
        }
        else
        {
            const int chunk = 1 << 20;
            var buffer = new byte[Math.Min(values.Length, chunk) * size];
            for (int done = 0; done < values.Length; done += chunk)
            {
                int n = Math.Min(chunk, values.Length - done);
                var bytes = buffer.AsSpan(0, n * size);
                FloatConversion.Encode(values.Slice(done, n), dtype, bytes);
                WriteAt(bytes, offset + (long)done * size);
            }
        }
        _written.Add(name);
    }

    /// <summary>Writes tensor <paramref name="name"/> from its raw little-endian bytes (any dtype).</summary>
    public void WriteBytes(string name, ReadOnlySpan<byte> raw)
    {
        var (spec, offset) = Find(name);
        if (raw.Length != spec.ByteCount)
            throw new ArgumentException($"{Path}: tensor '{name}' got {raw.Length} bytes, its shape needs {spec.ByteCount}");
        WriteAt(raw, offset);
        _written.Add(name);
    }

    /// <summary>Checks every declared tensor was written, then moves the file to its final name.</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        var missing = _tensors.Keys.Where(n => !_written.Contains(n)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"{Path}: tensors never written: {string.Join(", ", missing)}");
        try
        {
            _handle.Dispose();
            AtomicOutput.CommitFile(_tempPath, Path);
        }
        catch (Exception e)
        {
            AtomicOutput.TryDelete(_tempPath);
            throw Wrap(e);
        }
        finally
        {
            _done = true;
        }
    }

    public void Dispose()
    {
        if (_done) return;
        _done = true;
        _handle.Dispose();
        AtomicOutput.TryDelete(_tempPath);
    }

    /// <summary>Writes whole fp32 tensors in one call, all stored as <paramref name="dtype"/>.</summary>
    public static void WriteFile(string path, IEnumerable<(string Name, long[] Shape, float[] Values)> tensors,
                                 FloatDType dtype, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var writer = new SafetensorsWriter(path,
            list.Select(t => new SafetensorsTensorSpec(t.Name, dtype.SafetensorsName(), t.Shape)).ToList(), metadata);
        foreach (var t in list) writer.Write(t.Name, t.Values);
        writer.Commit();
    }

    private (SafetensorsTensorSpec Spec, long Offset) Find(string name)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        if (!_tensors.TryGetValue(name, out var t))
            throw new ArgumentException($"{Path}: tensor '{name}' was not declared");
        if (_written.Contains(name))
            throw new InvalidOperationException($"{Path}: tensor '{name}' written twice");
        return t;
    }

    private void WriteAt(ReadOnlySpan<byte> bytes, long dataOffset)
    {
        try
        {
            RandomAccess.Write(_handle, bytes, DataStart + dataOffset);
        }
        catch (Exception e)
        {
            throw Wrap(e);
        }
    }

    private Exception Wrap(Exception e) => e is IOException or UnauthorizedAccessException
        ? new QuantNativeException($"{Path}: writing the safetensors file failed: {e.Message}", e)
        : e;

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes so the data section is 8-byte aligned.</summary>
    private static byte[] BuildHeader(IReadOnlyList<SafetensorsTensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var spec in tensors)
            {
                json.WriteStartObject(spec.Name);
                json.WriteString("dtype", spec.DType);
                json.WriteStartArray("shape");
                foreach (long dim in spec.Shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += spec.ByteCount);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        while (stream.Length % 8 != 0) stream.WriteByte((byte)' ');
        return stream.ToArray();
    }
}
