using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// Decodes one output column's codes of <see cref="LowBitWeights"/> (every chunk of its row, in layout order) to fp32
/// values 0..2^bits−1, exactly (small integers). The vector path unpacks a 32-bit word into 8 lanes at once by
/// variable shifts (AVX2's vpsrlvd; machines without AVX2 take the scalar path); the scalar path is its reference, compared code for code in the tests.
/// </summary>
public static class LowBitCodes
{
    private static readonly Vector256<uint> Shift4 = Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28);
    private static readonly Vector256<uint> Shift2Low = Vector256.Create(0u, 2, 4, 6, 8, 10, 12, 14);
    private static readonly Vector256<uint> Shift2High = Vector256.Create(16u, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector256<uint> Shift1Low = Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);

    /// <summary>The row's words: [planes, chunks, 4] uint32 of column <paramref name="n"/>.</summary>
    public static ReadOnlySpan<uint> Row(LowBitWeights w, int n) =>
        w.QWeight.AsSpan((int)((long)n * w.Planes * w.Chunks * 4), w.Planes * w.Chunks * 4);

    /// <summary>Codes of a whole row into <paramref name="codes"/> (chunks·chunkLength values, padding included).</summary>
    public static void Decode(int bits, int chunks, ReadOnlySpan<uint> row, Span<float> codes, bool vectorized = true)
    {
        if (vectorized && Avx2.IsSupported) DecodeVector(bits, chunks, row, codes);
        else DecodeScalar(bits, chunks, row, codes);
    }

    public static void DecodeScalar(int bits, int chunks, ReadOnlySpan<uint> row, Span<float> codes)
    {
        int kc = LowBitWeights.ChunkLengthOf(bits);
        for (int c = 0; c < chunks; c++)
        for (int i = 0; i < kc; i++)
        {
            int Word(int plane, int word) => (plane * chunks + c) * 4 + word;
            uint q = bits switch
            {
                4 => (row[Word(0, i / 8)] >> (4 * (i % 8))) & 0xf,
                2 => (row[Word(0, i / 16)] >> (2 * (i % 16))) & 0x3,
                _ => ((row[Word(i / 64, i % 64 / 16)] >> (2 * (i % 16))) & 0x3) | (((row[Word(2, i / 32)] >> (i % 32)) & 0x1) << 2),
            };
            codes[c * kc + i] = q;
        }
    }

    private static void DecodeVector(int bits, int chunks, ReadOnlySpan<uint> row, Span<float> codes)
    {
        int kc = LowBitWeights.ChunkLengthOf(bits);
        for (int c = 0; c < chunks; c++)
        {
            var chunk = codes.Slice(c * kc, kc);
            switch (bits)
            {
                case 4:
                    for (int w = 0; w < 4; w++)
                        Store(Avx2.ShiftRightLogicalVariable(Vector256.Create(row[c * 4 + w]), Shift4) & Vector256.Create(0xfu),
                            chunk.Slice(8 * w, 8));
                    break;
                case 2:
                    for (int w = 0; w < 4; w++)
                    {
                        var word = Vector256.Create(row[c * 4 + w]);
                        Store(Avx2.ShiftRightLogicalVariable(word, Shift2Low) & Vector256.Create(0x3u), chunk.Slice(16 * w, 8));
                        Store(Avx2.ShiftRightLogicalVariable(word, Shift2High) & Vector256.Create(0x3u), chunk.Slice(16 * w + 8, 8));
                    }
                    break;
                default:
                    // Low two bits: planes 0 and 1 are W2 chunks of 64; the high bit: plane 2, 32 codes per word.
                    for (int i = 0; i < 128; i += 8)
                    {
                        var low = Avx2.ShiftRightLogicalVariable(Vector256.Create(row[((i / 64) * chunks + c) * 4 + i % 64 / 16]),
                            (i % 16 == 0 ? Shift2Low : Shift2High)) & Vector256.Create(0x3u);
                        var high = Avx2.ShiftRightLogicalVariable(Vector256.Create(row[(2 * chunks + c) * 4 + i / 32]),
                            Shift1Low + Vector256.Create((uint)(i % 32))) & Vector256.Create(0x1u);
                        Store(low | (high << 2), chunk.Slice(i, 8));
                    }
                    break;
            }
        }
    }

    private static void Store(Vector256<uint> codes, Span<float> destination) =>
        Vector256.ConvertToSingle(codes.AsInt32()).CopyTo(destination);
}
