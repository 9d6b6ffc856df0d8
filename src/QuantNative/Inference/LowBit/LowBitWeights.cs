using QuantNative.Model.Quantized;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// A W2/W3/W4 weight matrix W [N = out, K = in] in the layout the low-bit GEMV kernel reads
/// (kernels/gemm/lowbit_gemv.cu, whose header is the authority on it):
/// <list type="bullet">
/// <item><see cref="QWeight"/> uint32 [N, P, C, 4]: column n, plane p, chunk c of <see cref="ChunkLength"/> (KC)
/// consecutive k, one 16-byte vector each. W4: KC = 32, code i of a chunk in word i/8 at bit 4(i%8). W2: KC = 64, word
/// i/16 at bit 2(i%16). W3: KC = 128 in bit planes: the low 2 bits of code i in plane i/64, word (i%64)/16, bit
/// 2(i%16); the high bit in plane 2, word i/32, bit i%32 (16-byte vectors that 3-bit values never straddle; exactly
/// 3 bits per weight). Codes at k ≥ K (the last chunk's padding) are 0.</item>
/// <item><see cref="ScaleZero"/> uint32 [G, N]: low 16 bits the fp16 scale, high 16 bits the zero point as fp16.</item>
/// </list>
/// Groups are in the natural order of the layout: layout position k is in group k / <see cref="GroupLength"/>. For
/// act-order checkpoints layout position k holds input column <see cref="Permutation"/>[k] (the kernels then read x with
/// its columns permuted the same way); <see cref="Code"/> is indexed by layout position, <see cref="Dequantize"/> is in
/// input-column order.
/// </summary>
public sealed class LowBitWeights
{
    public required int Bits { get; init; }

    /// <summary>Input features (the reduction dimension).</summary>
    public required int K { get; init; }

    /// <summary>Output features.</summary>
    public required int N { get; init; }

    /// <summary>The group size as quantize_config.json spells it (g, or −1 for per-channel).</summary>
    public required int GroupSize { get; init; }

    public required bool Symmetric { get; init; }

    /// <summary>Every group's length but possibly the last (K for per-channel).</summary>
    public required int GroupLength { get; init; }

    public required uint[] QWeight { get; init; }
    public required uint[] ScaleZero { get; init; }

    /// <summary>Null (identity) for natural group order; for act-order the input column at each layout position.</summary>
    public int[]? Permutation { get; init; }

    /// <summary>The input column at layout position <paramref name="k"/>.</summary>
    public int InputColumn(int k) => Permutation is null ? k : Permutation[k];

    public int Groups => (K + GroupLength - 1) / GroupLength;
    public int ChunkLength => ChunkLengthOf(Bits);
    public int Planes => PlanesOf(Bits);
    public int Chunks => (K + ChunkLength - 1) / ChunkLength;

    /// <summary>k per chunk (one 16-byte vector per plane): 32 (W4), 64 (W2), 128 (W3).</summary>
    public static int ChunkLengthOf(int bits) => bits switch
    {
        2 => 64,
        3 => 128,
        4 => 32,
        _ => throw new QuantNativeException($"low-bit layout: {bits} bits; the kernel layout exists for 2, 3 and 4 bits"),
    };

    /// <summary>16-byte vectors per chunk: 3 for W3 (two low-bit planes, one high-bit plane), else 1.</summary>
    public static int PlanesOf(int bits) => bits == 3 ? 3 : 1;

    /// <summary>uint32 words of <see cref="QWeight"/> for N columns of K inputs.</summary>
    public static long QWeightWords(int n, int k, int bits) =>
        (long)n * PlanesOf(bits) * ((k + ChunkLengthOf(bits) - 1) / ChunkLengthOf(bits)) * 4;

    /// <summary>The code at layout position k of column n (k may reach the padded chunk end; the input column is
    /// <see cref="InputColumn"/>(k)).</summary>
    public int Code(int n, int k)
    {
        int kc = ChunkLength, c = k / kc, i = k % kc;
        long column = (long)n * Planes * Chunks;
        uint Word(int plane, int word) => QWeight[((column + (long)plane * Chunks + c) << 2) + word];
        return Bits switch
        {
            4 => (int)((Word(0, i / 8) >> (4 * (i % 8))) & 0xf),
            2 => (int)((Word(0, i / 16) >> (2 * (i % 16))) & 0x3),
            _ => (int)(((Word(i / 64, i % 64 / 16) >> (2 * (i % 16))) & 0x3) | (((Word(2, i / 32) >> (i % 32)) & 0x1) << 2)),
        };
    }

    public float Scale(int n, int group) => (float)BitConverter.UInt16BitsToHalf((ushort)(ScaleZero[(long)group * N + n] & 0xffff));

    public int Zero(int n, int group) => (int)(float)BitConverter.UInt16BitsToHalf((ushort)(ScaleZero[(long)group * N + n] >> 16));

    /// <summary>Ŵ [N, K] row-major in input-column order, float32: (q − z)·s, exact (a small integer times an fp16
    /// value).</summary>
    public float[] Dequantize()
    {
        var w = new float[(long)N * K];
        for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
        {
            int g = k / GroupLength;
            w[(long)n * K + InputColumn(k)] = UniformQuantizer.Dequantize(Code(n, k), Scale(n, g), Zero(n, g));
        }
        return w;
    }
}
