using System.Buffers.Binary;
using System.Text;

namespace QuantNative.Formats.Gguf;

/// <summary>A tensor's entry in a GGUF file: name, dims in ggml order (ne[0] first), type and absolute byte offset.</summary>
public sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type, long Offset)
{
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);
    public long ByteCount => ElementCount / Type.Traits().BlockSize * Type.Traits().BlockBytes;
}

/// <summary>
/// A GGUF file opened for reading (memory-mapped): the metadata in file order and the tensor infos, every count,
/// length, type and offset checked against the file before use, so a truncated or foreign file is one error naming it.
/// <see cref="ReadFloats"/> dequantizes a tensor of any type qn writes to fp32 (ggml's dequantize_row_*).
/// </summary>
public sealed class GgufFile : IDisposable
{
    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _byName;

    public string Path { get; }
    public uint Version { get; }
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public int Alignment { get; }

    private GgufFile(string path, MappedFile file, uint version, List<KeyValuePair<string, GgufValue>> metadata,
        List<GgufTensorInfo> tensors, int alignment)
    {
        (Path, _file, Version, Metadata, Tensors, Alignment) = (path, file, version, metadata, tensors, alignment);
        _byName = tensors.ToDictionary(t => t.Name);
    }

    /// <summary>Whether <paramref name="path"/> is a file that starts with GGUF's magic.</summary>
    public static bool IsGguf(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using var f = File.OpenRead(path);
            Span<byte> head = stackalloc byte[4];
            return f.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == GgufWriter.Magic;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static GgufFile Open(string path)
    {
        var file = MappedFile.Open(path);
        try
        {
            var r = new Cursor(file, path);
            if (r.U32() != GgufWriter.Magic) throw r.Bad("not a GGUF file (no GGUF magic)");
            uint version = r.U32();
            if (version is not (2 or 3)) throw r.Bad($"GGUF version {version}; qn reads versions 2 and 3");
            long tensorCount = r.Count("tensor count"), kvCount = r.Count("metadata count");
            var metadata = new List<KeyValuePair<string, GgufValue>>();
            var keys = new HashSet<string>();
            for (long i = 0; i < kvCount; i++)
            {
                string key = r.Str("metadata key");
                if (!keys.Add(key)) throw r.Bad($"metadata key {key} appears twice");
                metadata.Add(new(key, r.Value(key)));
            }
            int alignment = GgufWriter.DefaultAlignment;
            var alignValue = metadata.FirstOrDefault(kv => kv.Key == "general.alignment").Value;
            if (alignValue != null)
            {
                long a = alignValue.AsInteger("general.alignment");
                if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0) throw r.Bad($"general.alignment {a}: expected a power of two");
                alignment = (int)a;
            }
            var raw = new List<(string, long[], GgmlType, long)>();
            var names = new HashSet<string>();
            for (long i = 0; i < tensorCount; i++)
            {
                string name = r.Str("tensor name");
                if (!names.Add(name)) throw r.Bad($"tensor {name} appears twice");
                uint nd = r.U32();
                if (nd is 0 or > 4) throw r.Bad($"tensor {name} has {nd} dimensions; expected 1 to 4");
                var dims = new long[nd];
                for (int d = 0; d < nd; d++)
                {
                    ulong v = r.U64();
                    if (v == 0 || v > int.MaxValue) throw r.Bad($"tensor {name} dimension {d} is {v}");
                    dims[d] = (long)v;
                }
                // No ggml type packs more than 4 elements a byte: a larger product is a corrupt header (and could
                // overflow the byte count computed from it).
                if (dims.Aggregate(1.0, (a, b) => a * b) > 4.0 * file.Length)
                    throw r.Bad($"tensor {name}: dimensions [{string.Join(", ", dims)}] hold more values than the file can");
                uint type = r.U32();
                if (!GgmlTypes.IsKnown((int)type))
                    throw r.Bad($"tensor {name} has ggml type {type}, which qn does not read (it reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K..Q6_K)");
                var t = (GgmlType)type;
                if (dims[0] % t.Traits().BlockSize != 0)
                    throw r.Bad($"tensor {name}: row length {dims[0]} is not a multiple of {t}'s block of {t.Traits().BlockSize}");
                ulong offset = r.U64();
                if (offset > (ulong)file.Length) throw r.Bad($"tensor {name}: offset {offset} lies past the end of the {file.Length}-byte file");
                if (offset % (ulong)alignment != 0) throw r.Bad($"tensor {name}: offset {offset} is not a multiple of the alignment {alignment}");
                raw.Add((name, dims, t, (long)offset));
            }
            long dataStart = GgufWriter.Align(r.Position, alignment);
            var tensors = new List<GgufTensorInfo>();
            foreach (var (name, dims, type, offset) in raw)
            {
                var info = new GgufTensorInfo(name, dims, type, dataStart + offset);
                if (offset > file.Length || info.Offset > file.Length - info.ByteCount)
                    throw r.Bad($"tensor {name}: its {info.ByteCount} bytes at {info.Offset} lie past the end of the {file.Length}-byte file (truncated?)");
                tensors.Add(info);
            }
            return new GgufFile(path, file, version, metadata, tensors, alignment);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public GgufValue? Find(string key)
    {
        foreach (var kv in Metadata)
            if (kv.Key == key) return kv.Value;
        return null;
    }

    public GgufValue Require(string key) =>
        Find(key) ?? throw new QuantNativeException($"{Path}: GGUF metadata has no {key}");

    public bool HasTensor(string name) => _byName.ContainsKey(name);

    public GgufTensorInfo Tensor(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new QuantNativeException($"{Path}: GGUF tensor '{name}' not found");

    public ReadOnlySpan<byte> Bytes(GgufTensorInfo t) => _file.Span(t.Offset, checked((int)t.ByteCount));

    /// <summary>The tensor's values as fp32, in ggml order (row by row, ne[0] contiguous).</summary>
    public float[] ReadFloats(string name)
    {
        var t = Tensor(name);
        var result = new float[t.ElementCount];
        var bytes = Bytes(t);
        switch (t.Type)
        {
            case GgmlType.F32: FloatConversion.Decode(bytes, FloatDType.F32, result); break;
            case GgmlType.F16: FloatConversion.Decode(bytes, FloatDType.F16, result); break;
            case GgmlType.BF16: FloatConversion.Decode(bytes, FloatDType.BF16, result); break;
            default:
                var (bs, bb) = t.Type.Traits();
                long blocks = t.ElementCount / bs;
                for (long b = 0; b < blocks; b++)
                {
                    var block = bytes.Slice((int)(b * bb), bb);
                    var y = result.AsSpan((int)(b * bs), bs);
                    if (t.Type.IsKQuant()) KQuants.Dequantize(t.Type, block, y);
                    else Block32Codec.Decode(t.Type, block, y);
                }
                break;
        }
        return result;
    }

    public void Dispose() => _file.Dispose();

    /// <summary>A bounds-checked reader over the mapped header.</summary>
    private sealed class Cursor(MappedFile file, string path)
    {
        public long Position { get; private set; }

        public QuantNativeException Bad(string what) => new($"{path}: {what}");

        private ReadOnlySpan<byte> Take(long n)
        {
            if (n < 0 || Position > file.Length - n) throw Bad($"the GGUF header ends early (at byte {Position}; truncated?)");
            var s = file.Span(Position, (int)n);
            Position += n;
            return s;
        }

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public long Count(string what)
        {
            ulong v = U64();
            // Every entry takes at least 8 bytes, so a count beyond that is a corrupt header, not a big model.
            if (v > (ulong)(file.Length / 8)) throw Bad($"{what} {v} is larger than the file can hold");
            return (long)v;
        }

        public string Str(string what)
        {
            ulong n = U64();
            if (n > (ulong)(file.Length - Position)) throw Bad($"{what}: a string of {n} bytes runs past the end of the file");
            try
            {
                return new UTF8Encoding(false, true).GetString(Take((long)n));
            }
            catch (DecoderFallbackException)
            {
                throw Bad($"{what}: a string is not valid UTF-8");
            }
        }

        public GgufValue Value(string key)
        {
            var type = (GgufValueType)U32();
            if (type != GgufValueType.Array) return new GgufValue(type, Scalar(type, key));
            var element = (GgufValueType)U32();
            if (element == GgufValueType.Array) throw Bad($"metadata {key}: nested arrays are not read");
            long n = Count($"metadata {key} array length");
            Array items = element switch
            {
                GgufValueType.String => new string[n], GgufValueType.Float32 => new float[n], GgufValueType.Int32 => new int[n],
                GgufValueType.UInt32 => new uint[n], GgufValueType.Bool => new bool[n], GgufValueType.UInt8 => new byte[n],
                GgufValueType.Int8 => new sbyte[n], GgufValueType.UInt16 => new ushort[n], GgufValueType.Int16 => new short[n],
                GgufValueType.UInt64 => new ulong[n], GgufValueType.Int64 => new long[n], GgufValueType.Float64 => new double[n],
                _ => throw Bad($"metadata {key}: unknown element type {(uint)element}"),
            };
            for (long i = 0; i < n; i++) items.SetValue(Scalar(element, key), i);
            return new GgufValue(type, items, element);
        }

        private object Scalar(GgufValueType type, string key) => type switch
        {
            GgufValueType.UInt8 => Take(1)[0],
            GgufValueType.Int8 => (sbyte)Take(1)[0],
            GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(Take(2)),
            GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(Take(2)),
            GgufValueType.UInt32 => U32(),
            GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(Take(4)),
            GgufValueType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(Take(4)),
            GgufValueType.Bool => Take(1)[0] != 0,
            GgufValueType.String => Str($"metadata {key}"),
            GgufValueType.UInt64 => U64(),
            GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(Take(8)),
            GgufValueType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(Take(8)),
            _ => throw Bad($"metadata {key}: unknown value type {(uint)type}"),
        };
    }
}
