using System.Numerics.Tensors;
using QuantNative.Cpu;
using QuantNative.Cpu.Weights;
using QuantNative.Formats.Gptq;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// A W2/W3/W4 linear multiplied on the CPU straight from the packed layout the GPU kernels read
/// (<see cref="LowBitWeights"/>): the weights stay at 2–4 bits per value plus one fp16 scale and zero per group.
/// Decode (up to <see cref="GemvTokens"/> tokens, the memory-bound case): each thread decodes a block of rows'
/// codes into a cache-resident buffer (<see cref="LowBitCodes"/>) and forms y = Σ_g s_g·(Σ_{k∈g} q_k·x_k − z_g·Σ_{k∈g}
/// x_k), with the group sums of x computed once per token. Prefill and evaluation: a tile of rows dequantized to fp32
/// ((q − z)·s, exact) and one GEMM of every token against it. Act-order weights have x's columns permuted once into
/// layout order. Against the reference (<see cref="LowBitLinear.ForwardCpu"/>: the whole matrix dequantized, one GEMM)
/// the GEMM path differs only in summation order and the GEMV path by the factored group sum (bounds in the tests).
/// </summary>
public sealed unsafe class LowBitCpuLinear : ILinearWeights
{
    public const int GemvTokens = 4;
    private const int GemvRows = 16;
    private const int TileValues = 1 << 18;

    [ThreadStatic] private static float[]? t_codes;
    [ThreadStatic] private static float[]? t_tile;

    private LowBitCpuLinear(LowBitWeights weights, string name) => (Weights, Name) = (weights, name);

    public LowBitWeights Weights { get; }
    public string Name { get; }
    public int OutFeatures => Weights.N;
    public int InFeatures => Weights.K;
    public long StoredBytes => (Weights.QWeight.LongLength + Weights.ScaleZero.LongLength) * sizeof(uint);

    /// <summary>The layer of a GPTQ checkpoint repacked (bit-exact) into the low-bit layout; 8-bit layers, which the
    /// layout does not hold, as their exactly dequantized fp32 matrix instead.</summary>
    public static ILinearWeights Create(PackedGptqLinear packed, string name)
    {
        if (packed.Bits is >= 2 and <= 4) return new LowBitCpuLinear(LowBitRepack.FromGptq(packed, name), name);
        return new ArrayLinear(name, GptqPacker.Unpack(packed, name).Dequantize(), packed.OutFeatures, packed.InFeatures);
    }

    public static LowBitCpuLinear Of(LowBitWeights weights, string name) => new(weights, name);

    public void Forward(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        int n = OutFeatures, k = InFeatures;
        if (x.Length < (long)tokens * k || y.Length < (long)tokens * n)
            throw new ArgumentException($"{Name}: x has {x.Length} values, y {y.Length}, for {tokens} tokens of [{n}, {k}]");
        var xs = Weights.Permutation is { } perm ? Permute(x, tokens, perm) : x[..(tokens * k)].ToArray();
        if (tokens <= GemvTokens) Gemv(xs, y, tokens, accumulate);
        else Gemm(xs, y, tokens, accumulate);
    }

    /// <summary>x with its columns in layout order: column k of the result is input column Permutation[k].</summary>
    private static float[] Permute(ReadOnlySpan<float> x, int tokens, int[] permutation)
    {
        int k = permutation.Length;
        var result = new float[tokens * k];
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < k; i++) result[t * k + i] = x[t * k + permutation[i]];
        return result;
    }

    private void Gemv(float[] x, Span<float> y, int tokens, bool accumulate)
    {
        var w = Weights;
        int n = w.N, k = w.K, groups = w.Groups, glen = w.GroupLength;
        // Σ_{k∈g} x_k per token and group, once.
        var groupSums = new float[tokens * groups];
        for (int t = 0; t < tokens; t++)
            for (int g = 0; g < groups; g++)
            {
                int first = g * glen, len = Math.Min(glen, k - first);
                groupSums[t * groups + g] = TensorPrimitives.Sum(x.AsSpan(t * k + first, len));
            }
        int blocks = (n + GemvRows - 1) / GemvRows;
        int padded = w.Chunks * w.ChunkLength;
        fixed (float* py = y)
        {
            float* ys = py;
            ParallelRows.For(blocks, (long)GemvRows * k, b =>
            {
                var codes = t_codes is { } c && c.Length >= padded ? c : t_codes = new float[padded];
                int firstRow = b * GemvRows, rows = Math.Min(GemvRows, n - firstRow);
                for (int r = firstRow; r < firstRow + rows; r++)
                {
                    LowBitCodes.Decode(w.Bits, w.Chunks, LowBitCodes.Row(w, r), codes);
                    for (int t = 0; t < tokens; t++)
                    {
                        var xt = x.AsSpan(t * k, k);
                        float acc = 0;
                        for (int g = 0; g < groups; g++)
                        {
                            int first = g * glen, len = Math.Min(glen, k - first);
                            float dot = TensorPrimitives.Dot(codes.AsSpan(first, len), xt.Slice(first, len));
                            acc += w.Scale(r, g) * (dot - w.Zero(r, g) * groupSums[t * groups + g]);
                        }
                        float* target = ys + (long)t * n + r;
                        *target = accumulate ? *target + acc : acc;
                    }
                }
            });
        }
    }

    private void Gemm(float[] x, Span<float> y, int tokens, bool accumulate)
    {
        var w = Weights;
        int n = w.N, k = w.K;
        int tile = Math.Max(16, TileValues / k);
        var buffer = t_tile is { } b && b.Length >= tile * k ? b : t_tile = new float[tile * k];
        fixed (float* px = x) fixed (float* py = y) fixed (float* pw = buffer)
        {
            float* tileWeights = pw;
            for (int first = 0; first < n; first += tile)
            {
                int rows = Math.Min(tile, n - first), firstRow = first;
                ParallelRows.For(rows, k, r => Dequantize(firstRow + r, new Span<float>(tileWeights + (long)r * k, k)));
                Cpu.Gemm.Strided(false, true, tokens, rows, k, 1f, px, k, pw, k, accumulate ? 1f : 0f, py + first, n);
            }
        }
    }

    /// <summary>Row <paramref name="r"/> of Ŵ in layout order, (q − z)·s as <see cref="Model.Quantized.UniformQuantizer"/>.</summary>
    private void Dequantize(int r, Span<float> row)
    {
        var w = Weights;
        int padded = w.Chunks * w.ChunkLength;
        var codes = t_codes is { } c && c.Length >= padded ? c : t_codes = new float[padded];
        LowBitCodes.Decode(w.Bits, w.Chunks, LowBitCodes.Row(w, r), codes);
        for (int g = 0; g < w.Groups; g++)
        {
            int first = g * w.GroupLength, len = Math.Min(w.GroupLength, w.K - first);
            float s = w.Scale(r, g), z = w.Zero(r, g);
            for (int i = first; i < first + len; i++) row[i] = (codes[i] - z) * s;
        }
    }
}
