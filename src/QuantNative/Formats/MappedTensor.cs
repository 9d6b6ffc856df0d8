namespace QuantNative.Formats;

/// <summary>
/// One tensor of a memory-mapped checkpoint, in its stored dtype (F32, F16 or BF16), viewed as a matrix
/// [Rows, Columns] (the first dimension, and the product of the rest). Nothing is copied until rows are asked for:
/// inference converts one row or one tile at a time (<see cref="ReadRows"/>), so a model never exists as fp32 as a
/// whole. Valid while the file that made it is open.
/// </summary>
public sealed unsafe class MappedTensor
{
    private readonly MappedFile? _file;
    private readonly byte[]? _bytes;
    private readonly long _offset;

    internal MappedTensor(string name, FloatDType dtype, long[] shape, MappedFile file, long offset)
        : this(name, dtype, shape)
    {
        _file = file;
        _offset = offset;
    }

    /// <summary>A tensor held in memory in its dtype (synthetic benchmark models; tests).</summary>
    public static MappedTensor InMemory(string name, FloatDType dtype, long[] shape, byte[] bytes)
    {
        var t = new MappedTensor(name, dtype, shape, bytes);
        if (bytes.LongLength != t.ByteCount)
            throw new ArgumentException($"{name}: {bytes.LongLength} bytes for {t.ByteCount} of [{string.Join(", ", shape)}] {dtype}");
        return t;
    }

    private MappedTensor(string name, FloatDType dtype, long[] shape, byte[] bytes) : this(name, dtype, shape) => _bytes = bytes;

    private MappedTensor(string name, FloatDType dtype, long[] shape)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        // A matrix [out, in] is Rows × Columns; a vector (a norm, a bias) is one row.
        (Rows, Columns) = shape.Length switch
        {
            0 => (1L, 1L),
            1 => (1L, shape[0]),
            _ => (shape[0], shape.Skip(1).Aggregate(1L, (a, b) => a * b)),
        };
        if (Columns > int.MaxValue) throw new QuantNativeException($"tensor '{name}' has rows of {Columns} values");
    }

    public string Name { get; }
    public FloatDType DType { get; }
    public long[] Shape { get; }
    public long Rows { get; }
    public long Columns { get; }
    public long ByteCount => Rows * Columns * DType.ByteSize();

    /// <summary>The file the tensor is in (for messages).</summary>
    private string Source => _file?.Path ?? "(in memory)";

    /// <summary>Rows [first, first + count) converted to fp32 into <paramref name="destination"/> (count·Columns values).</summary>
    public void ReadRows(long first, int count, Span<float> destination)
    {
        if (first < 0 || count < 0 || first + count > Rows || destination.Length < count * Columns)
            throw new ArgumentOutOfRangeException(nameof(first),
                $"{Name}: rows [{first}, {first + count}) of {Rows} into {destination.Length} values");
        var rows = destination[..(int)(count * Columns)];
        ReadFloats(first * Columns * DType.ByteSize(), rows);
        FiniteWeights.Check(rows, Source, Name, first * Columns);
    }

    /// <summary>The whole tensor as fp32 (for the small ones: norms, biases).</summary>
    public float[] ReadAll()
    {
        if (Rows * Columns > Array.MaxLength) throw new QuantNativeException($"{Name}: {Rows * Columns} values do not fit one array");
        var result = new float[Rows * Columns];
        ReadFloats(0, result);
        FiniteWeights.Check(result, Source, Name, 0);
        return result;
    }

    /// <summary>Rows [first, first + count) of an F32 tensor in place, checked finite (a NaN weight would make every
    /// later activation NaN); the check brings the tile into cache just before its GEMM reads it.</summary>
    public ReadOnlySpan<float> F32Rows(long first, int count)
    {
        var rows = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(RowBytes(first, count));
        FiniteWeights.Check(rows, Source, Name, first * Columns);
        return rows;
    }

    /// <summary>The raw bytes of rows [first, first + count): what a kernel that reads the stored dtype takes.</summary>
    public ReadOnlySpan<byte> RowBytes(long first, int count)
    {
        long start = first * Columns * DType.ByteSize();
        int length = checked((int)(count * Columns * DType.ByteSize()));
        return _file != null ? _file.Span(_offset + start, length) : _bytes.AsSpan(checked((int)start), length);
    }

    private void ReadFloats(long start, Span<float> destination)
    {
        if (_file != null) _file.ReadFloats(_offset + start, DType, destination);
        else FloatConversion.Decode(_bytes.AsSpan(checked((int)start), destination.Length * DType.ByteSize()), DType, destination);
    }
}
