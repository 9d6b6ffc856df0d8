using System.Numerics.Tensors;
using QuantNative.Formats;

namespace QuantNative.Cpu.Weights;

/// <summary>
/// Weights left in the memory-mapped checkpoint in their dtype (BF16, F16 or F32), converted to fp32 a tile of rows at
/// a time into a buffer that stays in cache, never as a whole. Decode (up to <see cref="GemvTokens"/> tokens): each
/// thread converts a block of rows and takes its dot products with every token, so the weights are read once per
/// step at memory speed. Prefill and evaluation: a tile of rows converted, then one GEMM of all tokens against it into
/// the tile's output columns. F32 tensors are read in place.
/// </summary>
public sealed unsafe class MappedLinear : ILinearWeights
{
    /// <summary>Up to this many tokens the product is dot products (GEMV); beyond, tiled GEMMs.</summary>
    public const int GemvTokens = 16;

    /// <summary>Rows a thread converts at once in the GEMV (a block of 64 rows of 4096 values is 1 MiB).</summary>
    private const int GemvRows = 16;

    /// <summary>fp32 values of one GEMM tile: 256 Ki values (1 MiB) of weights, the GEMM's B operand.</summary>
    private const int TileValues = 1 << 18;

    private readonly MappedTensor _tensor;

    [ThreadStatic] private static float[]? t_buffer;

    public MappedLinear(MappedTensor tensor, int outFeatures, int inFeatures)
    {
        if (tensor.Rows != outFeatures || tensor.Columns != inFeatures)
            throw new QuantNativeException(
                $"tensor '{tensor.Name}' is [{tensor.Rows}, {tensor.Columns}], expected [{outFeatures}, {inFeatures}]");
        _tensor = tensor;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    public string Name => _tensor.Name;
    public int OutFeatures { get; }
    public int InFeatures { get; }
    public long StoredBytes => _tensor.ByteCount;
    public FloatDType DType => _tensor.DType;

    /// <summary>The mapped tensor (the device decode path widens it to float32 a slice at a time for its upload).</summary>
    public MappedTensor Tensor => _tensor;

    public void Forward(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        int n = OutFeatures, k = InFeatures;
        if (x.Length < (long)tokens * k || y.Length < (long)tokens * n)
            throw new ArgumentException($"{Name}: x has {x.Length} values, y {y.Length}, for {tokens} tokens of [{n}, {k}]");
        if (tokens <= GemvTokens) Gemv(x, y, tokens, accumulate);
        else Gemm(x, y, tokens, accumulate);
    }

    /// <summary>
    /// Decode: one dot product per output row and token, GemvRows rows per parallel item. BF16 rows are read in place
    /// (<see cref="Bf16Dot"/>); a non-finite weight cannot hide there, since with a finite x it makes its output
    /// non-finite, so only such rows are checked, and a NaN or infinite weight is reported naming the tensor as the
    /// converting path (<see cref="Rows"/>) reports it.
    /// </summary>
    private void Gemv(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        int n = OutFeatures, k = InFeatures;
        int blocks = (n + GemvRows - 1) / GemvRows;
        bool inPlace = _tensor.DType == FloatDType.BF16 && Bf16Dot.Supported;
        fixed (float* px = x) fixed (float* py = y)
        {
            float* xs = px, ys = py;
            ParallelRows.For(blocks, (long)GemvRows * k, b =>
            {
                int first = b * GemvRows, rows = Math.Min(GemvRows, n - first);
                var converted = inPlace ? default : Rows(first, rows);
                fixed (byte* raw = inPlace ? _tensor.RowBytes(first, rows) : default)
                    for (int t = 0; t < tokens; t++)
                    {
                        float* xt = xs + (long)t * k;
                        for (int r = 0; r < rows; r++)
                        {
                            float dot;
                            if (inPlace)
                            {
                                dot = Bf16Dot.Dot((ushort*)raw + (long)r * k, xt, k);
                                if (!float.IsFinite(dot)) _tensor.ReadRows(first + r, 1, new float[k]); // throws for a bad weight
                            }
                            else dot = TensorPrimitives.Dot(converted.Slice(r * k, k), new ReadOnlySpan<float>(xt, k));
                            float* target = ys + (long)t * n + first + r;
                            *target = accumulate ? *target + dot : dot;
                        }
                    }
            });
        }
    }

    private void Gemm(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        int n = OutFeatures, k = InFeatures;
        int tile = Math.Max(16, TileValues / k);
        fixed (float* px = x) fixed (float* py = y)
            for (int first = 0; first < n; first += tile)
            {
                int rows = Math.Min(tile, n - first);
                var w = Rows(first, rows);
                fixed (float* pw = w)
                    Cpu.Gemm.Strided(false, true, tokens, rows, k, 1f, px, k, pw, k, accumulate ? 1f : 0f, py + first, n);
            }
    }

    /// <summary>Rows [first, first + rows) as fp32: in place for F32, else converted into this thread's buffer.</summary>
    private ReadOnlySpan<float> Rows(int first, int rows)
    {
        if (_tensor.DType == FloatDType.F32)
            return _tensor.F32Rows(first, rows);
        int values = rows * InFeatures;
        var buffer = t_buffer is { } b && b.Length >= values ? b : t_buffer = new float[Math.Max(values, TileValues)];
        _tensor.ReadRows(first, rows, buffer);
        return buffer.AsSpan(0, values);
    }
}
