using System.Buffers.Binary;
using QuantNative.Model;

namespace QuantNative.Formats.Safetensors;

/// <summary>
/// A safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header, then the tensors' raw
/// little-endian bytes. The header is validated on open; tensor bytes are read only when asked for.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly MappedFile _file;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsEntry> _byName;

    public string Path { get; }

    /// <summary>The tensors in data order (their order in the file).</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>The optional "__metadata__" string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafetensorsFile(string path, MappedFile file, long dataStart, List<SafetensorsEntry> entries,
                            Dictionary<string, string> metadata)
    {
        Path = path;
        _file = file;
        _dataStart = dataStart;
        _byName = entries.ToDictionary(e => e.Name);
        Tensors = entries.OrderBy(e => e.Begin).ThenBy(e => e.End)
            .Select(e => new TensorInfo(e.Name, e.DType, e.Shape)).ToArray();
        Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new QuantNativeException($"{path}: safetensors file not found");
        var file = MappedFile.Open(path);
        try
        {
            if (file.Length < sizeof(ulong))
                throw new QuantNativeException(
                    $"{path}: {file.Length} bytes is too short for a safetensors file (the header length alone is 8 bytes)");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(0, sizeof(ulong)));
            ulong available = (ulong)(file.Length - sizeof(ulong));
            if (headerLength > available)
                throw new QuantNativeException(
                    $"{path}: the safetensors header length {headerLength} runs past the end of the {file.Length}-byte file");
            if (headerLength > int.MaxValue)
                throw new QuantNativeException($"{path}: the safetensors header length {headerLength} is implausibly large");
            long dataStart = sizeof(ulong) + (long)headerLength;
            var json = file.Span(sizeof(ulong), (int)headerLength).ToArray();
            var (entries, metadata) = SafetensorsHeader.Parse(json, file.Length - dataStart, path);
            return new SafetensorsFile(path, file, dataStart, entries, metadata);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The dtype and shape of <paramref name="name"/>; a <see cref="QuantNativeException"/> when absent.</summary>
    public TensorInfo Info(string name)
    {
        var e = Entry(name);
        return new TensorInfo(e.Name, e.DType, e.Shape);
    }

    /// <summary>Tensor <paramref name="name"/> converted to fp32; only F32, F16 and BF16 convert. A NaN or infinity
    /// is refused naming the tensor, unless <paramref name="finiteOnly"/> is false (the file as data, not weights).</summary>
    public float[] ReadFloats(string name, bool finiteOnly = true)
    {
        var e = Entry(name);
        if (!FloatDTypeExtensions.TryParseSafetensors(e.DType, out var dtype))
            throw new QuantNativeException(UnsupportedDType(e.DType, name, Path));
        long count = (e.End - e.Begin) / dtype.ByteSize();
        if (count > Array.MaxLength)
            throw new QuantNativeException($"{Path}: tensor '{name}' has {count} elements, more than one array can hold");
        var result = new float[count];
        if (finiteOnly) FiniteWeights.Read(_file, _dataStart + e.Begin, dtype, result, Path, name);
        else _file.ReadFloats(_dataStart + e.Begin, dtype, result);
        // The copy is the caller's now: the mapped pages need not count as this process's memory (a 13 GB checkpoint
        // quantized block by block would otherwise end with all of it resident).
        _file.DropPages(_dataStart + e.Begin, e.End - e.Begin);
        return result;
    }

    /// <summary>Tensor <paramref name="name"/> left in the file, in its dtype (F32, F16, BF16): inference reads it a
    /// row or a tile at a time. Valid while this file is open.</summary>
    public MappedTensor Map(string name)
    {
        var e = Entry(name);
        if (!FloatDTypeExtensions.TryParseSafetensors(e.DType, out var dtype))
            throw new QuantNativeException(UnsupportedDType(e.DType, name, Path));
        return new MappedTensor(name, dtype, e.Shape, _file, _dataStart + e.Begin);
    }

    /// <summary>The raw little-endian bytes of tensor <paramref name="name"/>, whatever its dtype.</summary>
    public byte[] ReadBytes(string name)
    {
        var e = Entry(name);
        long count = e.End - e.Begin;
        if (count > Array.MaxLength)
            throw new QuantNativeException($"{Path}: tensor '{name}' has {count} bytes, more than one array can hold");
        var result = new byte[count];
        _file.CopyBytes(_dataStart + e.Begin, result);
        return result;
    }

    /// <summary>
    /// Tensor <paramref name="name"/>'s bytes as an array of <typeparamref name="T"/>, read with pread rather than through
    /// the mapping: a tensor that is read once and repacked (a GPTQ layer's qweight) then leaves its pages in the page
    /// cache instead of in this process's mapping, so they do not count against the process's memory.
    /// </summary>
    public T[] ReadArray<T>(string name) where T : unmanaged
    {
        var e = Entry(name);
        long bytes = e.End - e.Begin;
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (bytes % size != 0 || bytes / size > Array.MaxLength)
            throw new QuantNativeException($"{Path}: tensor '{name}' has {bytes} bytes, not a whole array of {typeof(T).Name}");
        var result = new T[bytes / size];
        using var handle = File.OpenHandle(Path);
        var target = System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.AsSpan());
        for (int done = 0; done < target.Length;)
        {
            int read = RandomAccess.Read(handle, target[done..], _dataStart + e.Begin + done);
            if (read <= 0) throw new QuantNativeException($"{Path}: tensor '{name}' ends early (the file is truncated)");
            done += read;
        }
        return result;
    }

    internal static string UnsupportedDType(string dtype, string tensor, string path) =>
        $"unsupported dtype {dtype} for tensor '{tensor}' in {path} (expected F32, F16 or BF16)";

    private SafetensorsEntry Entry(string name) => _byName.TryGetValue(name, out var e)
        ? e
        : throw new QuantNativeException($"{Path}: tensor '{name}' not found");

    public void Dispose() => _file.Dispose();
}
