using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// One token's activations for the int8 decode GEMV (<see cref="LowBitInt8Row"/>): x in layout order rounded to int8
/// per chunk of the low-bit layout (32 values at W4, 64 at W2, 128 at W3) with one scale each, d_c = max|x_c| / 127,
/// xi = round-to-even(x · (1/d_c)) — llama.cpp's Q8_0 rounding, at the layout's chunk length — then scattered into the
/// byte order in which the kernel's byte lanes meet the codes. The kernel takes the chunks four at a time (one 64-byte
/// vector of each plane: 4 chunks × 16 bytes); a step's passes are the code positions within a byte (W4: the low,
/// then the high nibble; W2: bit pairs 0..3; W3: its two low-bit planes × bit pairs), 64 bytes each, byte lane B
/// holding the code of chunk B/16 that byte B%16 of that plane carries. Also per lane of the kernel's int32 sums (four
/// per chunk) the chunk's d, and per group X̃_g = Σ_{c∈g} d_c·Σ_{k∈c} xi_k for the zero points.
/// <see cref="Quantize"/> and <see cref="Arrange"/> are the specification, written element by element;
/// <see cref="Prepare"/> does both in vector registers (bit-identical), since the decode GEMV runs it on one thread
/// before every linear's parallel part (element by element it was ≈ 12 µs of every 2048-wide call).
/// </summary>
public static unsafe class Int8Activations
{
    public const int ChunksPerStep = 4;

    /// <summary>64-byte passes per step: the code positions a byte of the layout holds (W3: 2 low-bit planes × 4).</summary>
    public static int Passes(int bits) => bits switch
    {
        4 => 2,
        2 => 4,
        3 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(bits), bits, "2, 3 or 4 bits"),
    };

    public static int Steps(int chunks) => (chunks + ChunksPerStep - 1) / ChunksPerStep;

    /// <summary>Bytes of arranged int8 x per token.</summary>
    public static int ArrangedBytes(int bits, int chunks) => Steps(chunks) * Passes(bits) * 64;

    /// <summary>Floats of per-lane d per token (16 lanes per step).</summary>
    public static int LaneCount(int chunks) => Steps(chunks) * 16;

    /// <summary>
    /// Rounds x [K] (layout order) to int8 per chunk of <paramref name="chunkLength"/>: <paramref name="xi"/> [chunks ·
    /// chunkLength] (zero past K) and <paramref name="d"/> [chunks]. False, with the outputs undefined, when x holds a
    /// NaN or an infinity (the caller then takes the float path, which carries it into y).
    /// </summary>
    public static bool Quantize(ReadOnlySpan<float> x, int chunkLength, Span<sbyte> xi, Span<float> d)
    {
        int k = x.Length, chunks = (k + chunkLength - 1) / chunkLength;
        for (int c = 0; c < chunks; c++)
        {
            int first = c * chunkLength, len = Math.Min(chunkLength, k - first);
            var part = x.Slice(first, len);
            float amax = 0;
            foreach (float v in part)
            {
                if (!float.IsFinite(v)) return false;
                amax = Math.Max(amax, Math.Abs(v));
            }
            float dc = amax / 127f, id = dc == 0 ? 0f : 1f / dc;
            d[c] = dc;
            var target = xi.Slice(first, chunkLength);
            for (int i = 0; i < len; i++) target[i] = (sbyte)MathF.Round(part[i] * id, MidpointRounding.ToEven);
            target[len..].Clear();
        }
        return true;
    }

    /// <summary>
    /// The kernel's inputs from <see cref="Quantize"/>'s: <paramref name="arranged"/> [<see cref="ArrangedBytes"/>],
    /// <paramref name="laneD"/> [<see cref="LaneCount"/>] (zero for the padding chunks of the last step), and
    /// <paramref name="groupX"/> [groups] X̃_g (chunks of <paramref name="chunksPerGroup"/>, the last group possibly
    /// shorter).
    /// </summary>
    public static void Arrange(int bits, int chunks, int chunksPerGroup, ReadOnlySpan<sbyte> xi, ReadOnlySpan<float> d,
        Span<sbyte> arranged, Span<float> laneD, Span<float> groupX)
    {
        int kc = LowBitWeights.ChunkLengthOf(bits), stepBytes = Passes(bits) * 64;
        arranged[..ArrangedBytes(bits, chunks)].Clear();
        laneD[..LaneCount(chunks)].Clear();
        groupX.Clear();
        for (int c = 0; c < chunks; c++)
        {
            int step = c / ChunksPerStep, lane = 16 * (c % ChunksPerStep), sum = 0;
            var codes = xi.Slice(c * kc, kc);
            for (int i = 0; i < kc; i++)
            {
                // (pass, byte within the chunk's 16) of code i, as LowBitWeights.Code lays the codes out.
                var (pass, b) = bits switch
                {
                    4 => (i % 2, i / 2),
                    2 => (i % 4, i / 4),
                    _ => (4 * (i / 64) + i % 4, i % 64 / 4),
                };
                arranged[step * stepBytes + pass * 64 + lane + b] = codes[i];
                sum += codes[i];
            }
            for (int l = 0; l < 4; l++) laneD[step * 16 + c % ChunksPerStep * 4 + l] = d[c];
            groupX[c / chunksPerGroup] += d[c] * sum;
        }
    }

    /// <summary>Whether <see cref="Prepare"/> runs in vector registers here (else it runs the specification).</summary>
    public static bool Vectorized => Avx2.IsSupported && UseVectors;

    /// <summary>Lets tests run <see cref="Prepare"/>'s element-by-element fallback on a machine with AVX2.</summary>
    public static bool UseVectors { get; set; } = true;

    /// <summary>
    /// <see cref="Quantize"/> into <paramref name="xi"/> and <paramref name="d"/>, then <see cref="Arrange"/>, for one
    /// token's x [K] (layout order), with the same results bit for bit: a chunk's max|x| by vmaxps, x·(1/d) rounded by
    /// vcvtps2dq (round to nearest even, the MXCSR default, as MathF.Round's ToEven), the code bytes moved into their
    /// passes by byte shuffles and a 4 × 4 dword transpose, Σ xi in int32 lanes and X̃_g added up chunk by chunk in the
    /// same order. False (outputs undefined) for a NaN or infinity in x.
    /// </summary>
    public static bool Prepare(int bits, int chunks, int chunksPerGroup, ReadOnlySpan<float> x, Span<sbyte> xi, Span<float> d,
        Span<sbyte> arranged, Span<float> laneD, Span<float> groupX)
    {
        int kc = LowBitWeights.ChunkLengthOf(bits), k = x.Length;
        if (chunks != (k + kc - 1) / kc || xi.Length < chunks * kc || d.Length < chunks || arranged.Length < ArrangedBytes(bits, chunks) ||
            laneD.Length < LaneCount(chunks) || groupX.Length < (chunks + chunksPerGroup - 1) / chunksPerGroup)
            throw new ArgumentException($"Prepare: W{bits}, {k} values in {chunks} chunks: an output is shorter than the layout needs");
        if (!Vectorized)
        {
            if (!Quantize(x, kc, xi, d)) return false;
            Arrange(bits, chunks, chunksPerGroup, xi, d, arranged, laneD, groupX);
            return true;
        }
        int stepBytes = Passes(bits) * 64;
        arranged[..ArrangedBytes(bits, chunks)].Clear();
        laneD[..LaneCount(chunks)].Clear();
        groupX.Clear();
        float* padded = stackalloc float[128];
        fixed (float* px = x) fixed (sbyte* pxi = xi) fixed (float* pd = d)
        fixed (sbyte* pa = arranged) fixed (float* pl = laneD) fixed (float* pg = groupX)
            for (int c = 0; c < chunks; c++)
            {
                int first = c * kc, len = Math.Min(kc, k - first);
                float* values = px + first;
                if (len < kc)
                {
                    // The last chunk's tail as zeros: they change neither max|x| nor the sum, and round to 0.
                    new Span<float>(padded, kc).Clear();
                    new ReadOnlySpan<float>(values, len).CopyTo(new Span<float>(padded, kc));
                    values = padded;
                }
                sbyte* codes = pxi + first;
                if (!RoundChunk(values, kc, codes, out float dc, out int sum)) return false;
                pd[c] = dc;
                sbyte* target = pa + (long)(c / ChunksPerStep) * stepBytes + 16 * (c % ChunksPerStep);
                switch (bits)
                {
                    case 4: SplitNibblePasses(codes, target); break;
                    case 2: SplitPairPasses(codes, target); break;
                    default: SplitPairPasses(codes, target); SplitPairPasses(codes + 64, target + 256); break;
                }
                Vector128.Create(dc).Store(pl + (c / ChunksPerStep) * 16 + c % ChunksPerStep * 4);
                pg[c / chunksPerGroup] += dc * sum;
            }
        return true;
    }

    /// <summary>One chunk of <paramref name="kc"/> floats (a multiple of 32) to int8 at <paramref name="xi"/>, its d and
    /// Σ xi; false for a non-finite value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RoundChunk(float* x, int kc, sbyte* xi, out float dc, out int sum)
    {
        var absMask = Vector256.Create(0x7fffffff).AsSingle();
        var exponent = Vector256.Create(0x7f800000);
        var amax = Vector256<float>.Zero;
        var nonFinite = Vector256<int>.Zero;
        for (int i = 0; i < kc; i += 8)
        {
            var v = Vector256.Load(x + i);
            nonFinite |= Vector256.Equals(v.AsInt32() & exponent, exponent);
            amax = Avx.Max(amax, v & absMask);
        }
        dc = 0;
        sum = 0;
        if (nonFinite != Vector256<int>.Zero) return false;
        var m = Sse.Max(amax.GetLower(), amax.GetUpper());
        m = Sse.Max(m, Sse.MoveHighToLow(m, m));
        m = Sse.Max(m, Sse.Shuffle(m, m, 1));
        dc = m.ToScalar() / 127f;
        float id = dc == 0 ? 0f : 1f / dc;
        var scale = Vector256.Create(id);
        var sums = Vector256<int>.Zero;
        for (int i = 0; i < kc; i += 32)
        {
            var q0 = Avx.ConvertToVector256Int32(Vector256.Load(x + i) * scale);
            var q1 = Avx.ConvertToVector256Int32(Vector256.Load(x + i + 8) * scale);
            var q2 = Avx.ConvertToVector256Int32(Vector256.Load(x + i + 16) * scale);
            var q3 = Avx.ConvertToVector256Int32(Vector256.Load(x + i + 24) * scale);
            sums += (q0 + q1) + (q2 + q3);
            Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3)).Store(xi + i);
        }
        sum = Vector256.Sum(sums);
        return true;
    }

    private static readonly Vector128<byte> EvenThenOdd = Vector128.Create((byte)0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    private static readonly Vector128<byte> ByFour = Vector128.Create((byte)0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);

    /// <summary>W4: 32 codes, pass i % 2 at byte i / 2 (64 bytes apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SplitNibblePasses(sbyte* xi, sbyte* target)
    {
        var a = Ssse3.Shuffle(Vector128.Load((byte*)xi), EvenThenOdd).AsUInt64();
        var b = Ssse3.Shuffle(Vector128.Load((byte*)xi + 16), EvenThenOdd).AsUInt64();
        Sse2.UnpackLow(a, b).AsSByte().Store(target);
        Sse2.UnpackHigh(a, b).AsSByte().Store(target + 64);
    }

    /// <summary>W2 (and each 64-code half of W3): 64 codes, pass i % 4 at byte i / 4 (64 bytes apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SplitPairPasses(sbyte* xi, sbyte* target)
    {
        // Block j's dword p: its four codes with i % 4 = p; pass p is dword p of blocks 0..3.
        var b0 = Ssse3.Shuffle(Vector128.Load((byte*)xi), ByFour).AsUInt32();
        var b1 = Ssse3.Shuffle(Vector128.Load((byte*)xi + 16), ByFour).AsUInt32();
        var b2 = Ssse3.Shuffle(Vector128.Load((byte*)xi + 32), ByFour).AsUInt32();
        var b3 = Ssse3.Shuffle(Vector128.Load((byte*)xi + 48), ByFour).AsUInt32();
        var t0 = Sse2.UnpackLow(b0, b1).AsUInt64();
        var t1 = Sse2.UnpackLow(b2, b3).AsUInt64();
        var t2 = Sse2.UnpackHigh(b0, b1).AsUInt64();
        var t3 = Sse2.UnpackHigh(b2, b3).AsUInt64();
        Sse2.UnpackLow(t0, t1).AsSByte().Store(target);
        Sse2.UnpackHigh(t0, t1).AsSByte().Store(target + 64);
        Sse2.UnpackLow(t2, t3).AsSByte().Store(target + 128);
        Sse2.UnpackHigh(t2, t3).AsSByte().Store(target + 192);
    }
}
