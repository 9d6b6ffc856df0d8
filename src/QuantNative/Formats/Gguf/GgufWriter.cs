using System.Text;

namespace QuantNative.Formats.Gguf;

/// <summary>A tensor to write: its GGUF name, dims in ggml order (ne[0] = the contiguous row length first), type, and
/// the code that makes its bytes (called once, in file order, so only one tensor's bytes are held at a time).</summary>
public sealed record GgufTensorPlan(string Name, long[] Dims, GgmlType Type, Func<byte[]> Bytes)
{
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    public long ByteCount
    {
        get
        {
            var (bs, bb) = Type.Traits();
            return ElementCount / bs * bb;
        }
    }
}

/// <summary>
/// Writes a GGUF v3 file (the spec in ggml's docs/gguf.md): "GGUF", version 3, tensor and metadata counts (uint64), the
/// key/value pairs, the tensor infos (name, dims, type, offset relative to the data section), padding to
/// general.alignment (32 unless the metadata says otherwise), then each tensor's bytes, each padded to the alignment.
/// Little-endian throughout. Written under a hidden temporary name beside the target and renamed when complete.
/// </summary>
public static class GgufWriter
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const uint Version = 3;
    public const int DefaultAlignment = 32;

    public static void Write(string path, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata,
        IReadOnlyList<GgufTensorPlan> tensors, bool overwrite, Action<string>? afterTensor = null)
    {
        if (!overwrite && (File.Exists(path) || Directory.Exists(path)))
            throw new QuantNativeException($"{path}: already exists (use --force to replace it)");
        if (Directory.Exists(path))
            throw new QuantNativeException($"{path}: is a directory, expected a .gguf file name");
        var duplicate = tensors.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new ArgumentException($"tensor {duplicate.Key} planned twice");
        int alignment = DefaultAlignment;
        foreach (var (key, value) in metadata)
            if (key == "general.alignment") alignment = (int)value.AsInteger(key);

        string temp = AtomicOutput.TempSibling(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(Magic);
                w.Write(Version);
                w.Write((ulong)tensors.Count);
                w.Write((ulong)metadata.Count);
                foreach (var (key, value) in metadata)
                {
                    WriteString(w, key);
                    w.Write((uint)value.Type);
                    WriteValue(w, value, key);
                }
                long offset = 0;
                foreach (var t in tensors)
                {
                    WriteString(w, t.Name);
                    w.Write((uint)t.Dims.Length);
                    foreach (long d in t.Dims) w.Write((ulong)d);
                    w.Write((uint)t.Type);
                    w.Write((ulong)offset);
                    offset = Align(offset + t.ByteCount, alignment);
                }
                w.Flush();
                Pad(stream, alignment);
                foreach (var t in tensors)
                {
                    byte[] bytes = t.Bytes();
                    if (bytes.LongLength != t.ByteCount)
                        throw new InvalidOperationException($"{t.Name}: {bytes.LongLength} bytes made, {t.ByteCount} planned");
                    stream.Write(bytes);
                    Pad(stream, alignment);
                    afterTensor?.Invoke(t.Name);
                }
            }
            AtomicOutput.CommitFile(temp, path);
        }
        catch (IOException e)
        {
            AtomicOutput.TryDelete(temp);
            throw new QuantNativeException($"{path}: cannot write: {e.Message}", e);
        }
        catch
        {
            AtomicOutput.TryDelete(temp);
            throw;
        }
    }

    public static long Align(long offset, int alignment) => (offset + alignment - 1) / alignment * alignment;

    private static void Pad(Stream stream, int alignment)
    {
        long pad = Align(stream.Position, alignment) - stream.Position;
        for (long i = 0; i < pad; i++) stream.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v, string key)
    {
        if (v.Type == GgufValueType.Array)
        {
            var array = (Array)v.Value;
            w.Write((uint)v.ElementType);
            w.Write((ulong)array.Length);
            foreach (object item in array) WriteScalar(w, v.ElementType, item, key);
            return;
        }
        WriteScalar(w, v.Type, v.Value, key);
    }

    private static void WriteScalar(BinaryWriter w, GgufValueType type, object value, string key)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)value); break;
            case GgufValueType.Int8: w.Write((sbyte)value); break;
            case GgufValueType.UInt16: w.Write((ushort)value); break;
            case GgufValueType.Int16: w.Write((short)value); break;
            case GgufValueType.UInt32: w.Write((uint)value); break;
            case GgufValueType.Int32: w.Write((int)value); break;
            case GgufValueType.Float32: w.Write((float)value); break;
            case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt64: w.Write((ulong)value); break;
            case GgufValueType.Int64: w.Write((long)value); break;
            case GgufValueType.Float64: w.Write((double)value); break;
            default: throw new ArgumentException($"GGUF key {key}: nested arrays are not written");
        }
    }
}
