using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using QuantNative.Cpu;
using QuantNative.Cpu.Weights;
using QuantNative.Formats.Gptq;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// A W2/W3/W4 linear multiplied on the CPU straight from the packed layout the GPU kernels read
/// (<see cref="LowBitWeights"/>): the weights stay at 2–4 bits per value plus one fp16 scale and zero per group.
/// Decode (up to <see cref="GemvTokens"/> tokens, the memory-bound case): each thread takes a block of rows and forms
/// y = Σ_g s_g·(Σ_{k∈g} q_k·x_k − z_g·Σ_{k∈g} x_k), with the group sums of x computed once per token and the block's
/// fp16 scales and zeros converted together; the per-group dots run from the packed chunks in vector registers for
/// W4 and W2 (<see cref="LowBitGemvRow"/>, when groups hold whole chunks), else from a row of decoded codes
/// (<see cref="LowBitCodes"/>). Prefill and evaluation: a tile of rows dequantized to fp32
/// ((q − z)·s, exact) and one GEMM of every token against it. Act-order weights have x's columns permuted once into
/// layout order. Against the reference (<see cref="LowBitLinear.ForwardCpu"/>: the whole matrix dequantized, one GEMM)
/// the GEMM path differs only in summation order and the GEMV path by the factored group sum (bounds in the tests).
/// </summary>
public sealed unsafe class LowBitCpuLinear : ISharedInputLinear
{
    public const int GemvTokens = 16;
    private const int GemvRows = 16;
    private const int TileValues = 1 << 18;

    [ThreadStatic] private static float[]? t_codes;
    [ThreadStatic] private static float[]? t_tile;
    [ThreadStatic] private static float[]? t_permuted;
    // The decode GEMV's per-call inputs (x in lane order, the group sums of x), on the calling thread: a fresh array
    // per call was garbage 154 times per TinyLlama token.
    [ThreadStatic] private static float[]? t_arranged;
    [ThreadStatic] private static float[]? t_groupSums;
    // The int8 path's: x rounded per chunk, its scales, the kernel's arrangement of it, per-lane scales, and per block
    // the rows' group scales and zero-point terms.
    [ThreadStatic] private static sbyte[]? t_rounded;
    [ThreadStatic] private static float[]? t_chunkScales;
    [ThreadStatic] private static sbyte[]? t_arrangedInt8;
    [ThreadStatic] private static float[]? t_laneScales;
    [ThreadStatic] private static float[]? t_blockScales;

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

    /// <summary>What the decode GEMV (up to <see cref="GemvTokens"/> tokens) multiplies the codes with
    /// (<see cref="LowBit.DecodeActivations"/>): float32 unless a generator asks for int8 (`qn generate` and `qn bench
    /// decode` do), so that evaluation's perplexities never depend on the window length; more tokens always take the
    /// float32 GEMM.</summary>
    public DecodeActivations DecodeActivations { get; set; } = DecodeActivations.Float32;

    public void Forward(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        int n = OutFeatures, k = InFeatures;
        if (x.Length < (long)tokens * k || y.Length < (long)tokens * n)
            throw new ArgumentException($"{Name}: x has {x.Length} values, y {y.Length}, for {tokens} tokens of [{n}, {k}]");
        // x as the layout reads it: act-order permutes its columns (into a reused buffer, not a new array per call,
        // which for a 512-token window would be megabytes of garbage per linear).
        ReadOnlySpan<float> xs = x[..(tokens * k)];
        if (Weights.Permutation is { } perm)
        {
            var permuted = t_permuted is { } p && p.Length >= tokens * k ? p : t_permuted = new float[tokens * k];
            for (int t = 0; t < tokens; t++)
                for (int i = 0; i < k; i++) permuted[t * k + i] = x[t * k + perm[i]];
            xs = permuted.AsSpan(0, tokens * k);
        }
        if (tokens <= GemvTokens) Gemv(xs, y, tokens, accumulate);
        else Gemm(xs, y, tokens, accumulate);
    }

    private void Gemv(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        var w = Weights;
        bool wholeChunks = w.Groups == 1 || w.GroupLength % w.ChunkLength == 0;
        if (TakesInt8Path() && GemvInt8(x, y, tokens, accumulate))
            return;
        if (LowBitGemvRow.Supported(w.Bits) && wholeChunks)
        {
            GemvPacked(x, y, tokens, accumulate);
            return;
        }
        int n = w.N, k = w.K, groups = w.Groups, glen = w.GroupLength;
        // Σ_{k∈g} x_k per token and group, once.
        var groupSums = GroupSums(x, tokens);
        int blocks = (n + GemvRows - 1) / GemvRows;
        int padded = w.Chunks * w.ChunkLength;
        fixed (float* py = y) fixed (float* px = x)
        {
            float* ys = py, xp = px;
            ParallelRows.For(blocks, (long)GemvRows * k, b =>
            {
                var codes = t_codes is { } c && c.Length >= padded ? c : t_codes = new float[padded];
                int firstRow = b * GemvRows, rows = Math.Min(GemvRows, n - firstRow);
                for (int r = firstRow; r < firstRow + rows; r++)
                {
                    LowBitCodes.Decode(w.Bits, w.Chunks, LowBitCodes.Row(w, r), codes);
                    for (int t = 0; t < tokens; t++)
                    {
                        var xt = new ReadOnlySpan<float>(xp + (long)t * k, k);
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

    /// <summary>This thread's buffer of at least <paramref name="length"/> values (contents undefined).</summary>
    private static float[] Reuse(ref float[]? buffer, int length) =>
        buffer is { } b && b.Length >= length ? b : buffer = new float[length];

    /// <summary>Σ_{k∈g} x_k per token and group.</summary>
    private float[] GroupSums(ReadOnlySpan<float> x, int tokens)
    {
        var w = Weights;
        var sums = Reuse(ref t_groupSums, tokens * w.Groups);
        for (int t = 0; t < tokens; t++)
            for (int g = 0; g < w.Groups; g++)
            {
                int first = g * w.GroupLength, len = Math.Min(w.GroupLength, w.K - first);
                sums[t * w.Groups + g] = TensorPrimitives.Sum(x.Slice(t * w.K + first, len));
            }
        return sums;
    }

    private void GemvPacked(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        var w = Weights;
        int n = w.N, k = w.K, groups = w.Groups, padded = w.Chunks * w.ChunkLength;
        int chunksPerGroup = groups == 1 ? w.Chunks : w.GroupLength / w.ChunkLength;
        var groupSums = GroupSums(x, tokens);
        var arranged = Reuse(ref t_arranged, tokens * padded);
        for (int t = 0; t < tokens; t++)
            LowBitGemvRow.Arrange(w.Bits, x.Slice(t * k, k), arranged.AsSpan(t * padded, padded));
        int blocks = (n + GemvRows - 1) / GemvRows;
        long rowBytes = (long)w.Chunks * 16;
        fixed (float* py = y) fixed (float* px = arranged) fixed (uint* pq = w.QWeight) fixed (uint* psz = w.ScaleZero)
        {
            float* ys = py, xs = px;
            byte* q = (byte*)pq;
            Half* scaleZero = (Half*)psz;
            ParallelRows.For(blocks, (long)GemvRows * k, b =>
            {
                int firstRow = b * GemvRows, rows = Math.Min(GemvRows, n - firstRow);
                // The block's (scale, zero) pairs of every group, converted together: [group][row][2].
                var buffer = t_codes is { } c && c.Length >= groups * rows * 2 ? c : t_codes = new float[Math.Max(groups * GemvRows * 2, padded)];
                for (int g = 0; g < groups; g++)
                    TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(scaleZero + 2 * ((long)g * n + firstRow), 2 * rows),
                        buffer.AsSpan(g * rows * 2, rows * 2));
                fixed (float* pb = buffer)
                    for (int r = 0; r < rows; r++)
                    {
                        byte* row = q + (firstRow + r) * rowBytes;
                        for (int t = 0; t < tokens; t++)
                        {
                            // Σ_g s_g·Σ q·x in vector registers, then − Σ_g s_g·z_g·Σ_{k∈g} x_k.
                            float acc = LowBitGemvRow.RowDot(w.Bits, row, xs + (long)t * padded, w.Chunks, chunksPerGroup,
                                pb + 2 * r, 2 * rows);
                            for (int g = 0; g < groups; g++)
                                acc -= pb[(g * rows + r) * 2] * pb[(g * rows + r) * 2 + 1] * groupSums[t * groups + g];
                            float* target = ys + (long)t * n + firstRow + r;
                            *target = accumulate ? *target + acc : acc;
                        }
                    }
            });
        }
    }

    private static T[] Reuse<T>(ref T[]? buffer, int length) =>
        buffer is { } b && b.Length >= length ? b : buffer = new T[length];

    /// <summary>
    /// The decode GEMV on int8 activations (<see cref="LowBitInt8Row"/>): y_n = Σ_g s_g·Σ_{c∈g} d_c·(Σ q·xi − z_g·Σ xi),
    /// the zero-point terms Σ_g s_g·z_g·X̃_g formed for the block's rows together. False (nothing written) when x holds
    /// a non-finite value.
    /// </summary>
    private bool GemvInt8(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        if (!PrepareInt8(x, tokens)) return false;
        int blocks = (OutFeatures + GemvRows - 1) / GemvRows;
        fixed (float* py = y)
        {
            float* ys = py;
            var prepared = Int8Inputs.OfThisThread();
            ParallelRows.For(blocks, (long)GemvRows * InFeatures, b => Int8Block(b, prepared, ys, tokens, accumulate));
        }
        return true;
    }

    /// <summary>
    /// Linears that read the same x (a block's q, k and v; gate and up) as one decode GEMV: x rounded and arranged once,
    /// and one parallel loop over all their blocks of rows instead of one per linear (each hand-off between threads
    /// cost about as much as a 256-row linear's arithmetic). The results are those of each linear's own
    /// <see cref="Forward"/>, bit for bit. False, with nothing written, where that is not possible: another decode mode,
    /// more than <see cref="GemvTokens"/> tokens, act-order, or weights of different shapes or layouts (the caller
    /// then runs them one by one).
    /// </summary>
    public bool TryForwardTogether(ReadOnlySpan<float> x, int tokens, Span<float> ya, ILinearWeights b, Span<float> yb,
        ILinearWeights? c, Span<float> yc)
    {
        var la = this;
        if (b is not LowBitCpuLinear lb || (c != null && c is not LowBitCpuLinear)) return false;
        var lc = c as LowBitCpuLinear;
        if (tokens < 1 || tokens > GemvTokens || !la.TakesInt8Path() || !la.SharesInputWith(lb) || (lc != null && !la.SharesInputWith(lc)))
            return false;
        int k = la.InFeatures;
        if (x.Length < (long)tokens * k || ya.Length < (long)tokens * la.OutFeatures || yb.Length < (long)tokens * lb.OutFeatures ||
            (lc != null && yc.Length < (long)tokens * lc.OutFeatures))
            throw new ArgumentException($"{la.Name}, {lb.Name}{(lc != null ? ", " + lc.Name : "")}: x or an output is too short for {tokens} tokens");
        if (!la.PrepareInt8(x[..(tokens * k)], tokens)) return false;
        int blocksA = (la.OutFeatures + GemvRows - 1) / GemvRows, blocksB = (lb.OutFeatures + GemvRows - 1) / GemvRows;
        int blocksC = lc == null ? 0 : (lc.OutFeatures + GemvRows - 1) / GemvRows;
        fixed (float* pa = ya) fixed (float* pb = yb) fixed (float* pc = yc)
        {
            float* ysa = pa, ysb = pb, ysc = pc;
            var prepared = Int8Inputs.OfThisThread();
            ParallelRows.For(blocksA + blocksB + blocksC, (long)GemvRows * k, i =>
            {
                if (i < blocksA) la.Int8Block(i, prepared, ysa, tokens, false);
                else if (i < blocksA + blocksB) lb.Int8Block(i - blocksA, prepared, ysb, tokens, false);
                else lc!.Int8Block(i - blocksA - blocksB, prepared, ysc, tokens, false);
            });
        }
        return true;
    }

    /// <summary>Whether the decode GEMV of this linear runs on int8 activations here (else the float kernels).</summary>
    private bool TakesInt8Path()
    {
        var w = Weights;
        return DecodeActivations == DecodeActivations.Int8 && (w.Groups == 1 || w.GroupLength % w.ChunkLength == 0) &&
               LowBitInt8Row.Supported(w.Bits, w.Groups, w.GroupLength / w.ChunkLength);
    }

    /// <summary>Whether <paramref name="other"/>'s int8 GEMV reads x arranged exactly as this one's does (act-order
    /// weights permute x each their own way, so neither may have a permutation).</summary>
    private bool SharesInputWith(LowBitCpuLinear other) =>
        Weights.Permutation == null && other.Weights.Permutation == null && other.TakesInt8Path() &&
        other.Weights.K == Weights.K && other.Weights.Bits == Weights.Bits && other.Weights.GroupLength == Weights.GroupLength;

    /// <summary>x of every token rounded and arranged for this linear's layout into the calling thread's buffers
    /// (<see cref="Int8Inputs"/>); false for a non-finite value.</summary>
    private bool PrepareInt8(ReadOnlySpan<float> x, int tokens)
    {
        var w = Weights;
        int k = w.K, groups = w.Groups, chunks = w.Chunks, kc = w.ChunkLength, bits = w.Bits;
        int chunksPerGroup = groups == 1 ? chunks : w.GroupLength / kc;
        int arrangedBytes = Int8Activations.ArrangedBytes(bits, chunks), lanes = Int8Activations.LaneCount(chunks);
        var rounded = Reuse(ref t_rounded, chunks * kc);
        var chunkScales = Reuse(ref t_chunkScales, chunks);
        var arranged = Reuse(ref t_arrangedInt8, tokens * arrangedBytes);
        var laneScales = Reuse(ref t_laneScales, tokens * lanes);
        var groupX = Reuse(ref t_groupSums, tokens * groups);
        for (int t = 0; t < tokens; t++)
            if (!Int8Activations.Prepare(bits, chunks, chunksPerGroup, x.Slice(t * k, k), rounded, chunkScales,
                    arranged.AsSpan(t * arrangedBytes, arrangedBytes), laneScales.AsSpan(t * lanes, lanes), groupX.AsSpan(t * groups, groups)))
                return false;
        return true;
    }

    /// <summary>The arrays <see cref="PrepareInt8"/> filled on the calling thread, handed to the parallel loop's
    /// threads (which have their own thread-static buffers).</summary>
    private sealed record Int8Inputs(sbyte[] Arranged, float[] LaneScales, float[] GroupX)
    {
        public static Int8Inputs OfThisThread() => new(t_arrangedInt8!, t_laneScales!, t_groupSums!);
    }

    /// <summary>Rows [b·GemvRows, …) of y for every token, from the prepared x.</summary>
    private void Int8Block(int b, Int8Inputs prepared, float* ys, int tokens, bool accumulate)
    {
        var w = Weights;
        int n = w.N, groups = w.Groups, chunks = w.Chunks, bits = w.Bits;
        int chunksPerGroup = groups == 1 ? chunks : w.GroupLength / w.ChunkLength;
        int arrangedBytes = Int8Activations.ArrangedBytes(bits, chunks), lanes = Int8Activations.LaneCount(chunks);
        long rowBytes = (long)chunks * 16 * w.Planes;
        // Past the last group, zero scales: a step's lanes of the padding chunks read them (times d = 0).
        int paddedGroups = groups + Int8Activations.ChunksPerStep;
        int firstRow = b * GemvRows, rows = Math.Min(GemvRows, n - firstRow);
        // [paddedGroups][GemvRows] scales, [groups][GemvRows] s·z, [GemvRows] zero-point term, [GemvRows] dots.
        var buffer = Reuse(ref t_blockScales, (paddedGroups + groups + 2) * GemvRows);
        fixed (float* pb = buffer) fixed (sbyte* xs = prepared.Arranged) fixed (float* ls = prepared.LaneScales)
        fixed (float* gx = prepared.GroupX) fixed (uint* pq = w.QWeight) fixed (uint* scaleZero = w.ScaleZero)
        {
            byte* q = (byte*)pq;
            float* scales = pb, zeroTerms = pb + paddedGroups * GemvRows, correction = zeroTerms + groups * GemvRows;
            float* dots = correction + GemvRows;
            new Span<float>(pb + groups * GemvRows, (paddedGroups - groups) * GemvRows).Clear();
            for (int g = 0; g < groups; g++)
            {
                uint* words = scaleZero + (long)g * n + firstRow;
                if (rows == GemvRows)
                {
                    ScaleZeroWords.Convert(words, GemvRows, scales + g * GemvRows, zeroTerms + g * GemvRows);
                    continue;
                }
                for (int r = 0; r < rows; r++)
                {
                    float scale = (float)BitConverter.UInt16BitsToHalf((ushort)(words[r] & 0xffff));
                    scales[g * GemvRows + r] = scale;
                    zeroTerms[g * GemvRows + r] = scale * (float)BitConverter.UInt16BitsToHalf((ushort)(words[r] >> 16));
                }
            }
            for (int t = 0; t < tokens; t++)
            {
                // Σ_g s_g·z_g·X̃_g for the block's rows at once (two 256-bit halves: every x86-64 machine with the
                // int8 kernel has AVX2, not all have AVX-512).
                var low = Vector256<float>.Zero;
                var high = Vector256<float>.Zero;
                for (int g = 0; g < groups; g++)
                {
                    float xg = gx[t * groups + g];
                    low += Vector256.Load(zeroTerms + g * GemvRows) * xg;
                    high += Vector256.Load(zeroTerms + g * GemvRows + 8) * xg;
                }
                low.Store(correction);
                high.Store(correction + 8);
                LowBitInt8Row.Rows(bits, q + firstRow * rowBytes, rowBytes, rows, chunks, xs + (long)t * arrangedBytes,
                    ls + (long)t * lanes, scales, GemvRows, groups, chunksPerGroup, dots);
                for (int r = 0; r < rows; r++)
                {
                    float acc = dots[r] - correction[r];
                    float* target = ys + (long)t * n + firstRow + r;
                    *target = accumulate ? *target + acc : acc;
                }
            }
        }
    }

    private void Gemm(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
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
            // (q − z)·s as UniformQuantizer.Dequantize: q − z exact in float (small integers), one rounding by ·s.
            var part = row.Slice(first, len);
            TensorPrimitives.Subtract(codes.AsSpan(first, len), (float)w.Zero(r, g), part);
            TensorPrimitives.Multiply(part, w.Scale(r, g), part);
        }
    }
}
