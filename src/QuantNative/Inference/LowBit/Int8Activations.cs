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
/// </summary>
public static class Int8Activations
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
}
