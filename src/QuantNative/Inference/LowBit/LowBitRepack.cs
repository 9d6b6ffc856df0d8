using QuantNative.Formats.Gptq;
using QuantNative.Model.Quantized;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// The load-time repack from the GPTQ checkpoint layout (DESIGN.md §5: qweight int32 [Words(in), out] packed along
/// the input dimension with 3-bit values straddling words, qzeros int32 [groups, Words(out)], scales fp16 [groups,
/// out], g_idx; v1 stores zero − 1) into <see cref="LowBitWeights"/>. Act-order (desc_act) checkpoints are repacked
/// with their input columns permuted so that every group is contiguous (<see cref="LowBitWeights.Permutation"/>; the
/// device path permutes x the same way before the GEMM). It reads the packed words directly (one column
/// at a time, never the whole unpacked matrix) and is bit-exact against <see cref="GptqPacker.Unpack"/>: every code,
/// fp16 scale and zero point is carried over unchanged (tests/QuantNative.Tests/Inference/LowBit/LowBitRepackTests.cs).
/// </summary>
public static class LowBitRepack
{
    public static LowBitWeights FromGptq(PackedGptqLinear p, string tensor = "weight")
    {
        int bits = p.Bits, n = p.OutFeatures, k = p.InFeatures;
        if (n <= 0 || k <= 0)
            throw new QuantNativeException($"{tensor}: in_features {k}, out_features {n}: expected positive sizes");
        if (bits is < 2 or > 4)
            throw new QuantNativeException($"{tensor}: {bits}-bit weights; the low-bit kernel layout holds 2, 3 or 4 bits");
        var layout = new GroupLayout(k, p.GroupSize);
        int groups = layout.Groups, qmax = (1 << bits) - 1;
        Require(p.QWeight.Length, p.QWeightShape, tensor, "qweight");
        Require(p.QZeros.Length, p.QZerosShape, tensor, "qzeros");
        Require(p.Scales.Length, p.ScalesShape, tensor, "scales");
        Require(p.GIdx.Length, (k, 1), tensor, "g_idx");
        int[]? permutation = ActOrderPermutation(p.GIdx, layout, tensor);
        int zeroShift = p.Format switch
        {
            GptqCheckpointFormat.V1 => 1,
            GptqCheckpointFormat.V2 => 0,
            _ => throw new QuantNativeException($"{tensor}: checkpoint format {(int)p.Format}: expected 1 (gptq) or 2 (gptq_v2)"),
        };

        int kc = LowBitWeights.ChunkLengthOf(bits), planes = LowBitWeights.PlanesOf(bits);
        int chunks = (k + kc - 1) / kc;
        var qweight = new uint[LowBitWeights.QWeightWords(n, k, bits)];
        if (permutation is null && bits is 4 or 2) TransposeWords(p.QWeight, qweight, n, k, bits, chunks);
        else
            // Columns are independent (each writes its own words), so they repack in parallel.
            Parallel.For(0, n, () => new int[k], (o, _, codes) =>
            {
                BitStream32.Unpack(p.QWeight.AsSpan(o), n, k, bits, codes, 1);
                RepackColumn(qweight, codes, permutation, (long)o * planes * chunks, chunks, kc, bits);
                return codes;
            }, _ => { });

        int zeroWords = BitStream32.Words(n, bits);
        var stored = new int[n];
        var scaleZero = new uint[(long)groups * n];
        for (int g = 0; g < groups; g++)
        {
            BitStream32.Unpack(p.QZeros.AsSpan(g * zeroWords), 1, n, bits, stored, 1);
            for (int o = 0; o < n; o++)
            {
                int z = stored[o] + zeroShift;
                if (z > qmax)
                    throw new QuantNativeException(
                        $"{tensor}: qzeros[{g}] output {o} stores {stored[o]}, a zero point of {z} in format v1: more " +
                        $"than qmax = {qmax} (a zero point of 0 written as −1 by a v1 writer?)");
                ushort zeroHalf = BitConverter.HalfToUInt16Bits((Half)z);
                scaleZero[(long)g * n + o] = p.Scales[g * n + o] | ((uint)zeroHalf << 16);
            }
        }

        return new LowBitWeights
        {
            Bits = bits, K = k, N = n, GroupSize = p.GroupSize, Symmetric = p.Symmetric, GroupLength = layout.Length,
            QWeight = qweight, ScaleZero = scaleZero, Permutation = permutation,
        };
    }

    /// <summary>One column's codes (input order) into its layout words, permuted when act-order.</summary>
    private static void RepackColumn(uint[] qweight, int[] codes, int[]? permutation, long column, int chunks, int kc, int bits)
    {
        int k = codes.Length;
        for (int c = 0; c < k; c++)
        {
            uint q = (uint)codes[permutation is null ? c : permutation[c]];
            int chunk = c / kc, i = c % kc;
            long Word(int plane, int word) => ((column + (long)plane * chunks + chunk) << 2) + word;
            switch (bits)
            {
                case 4: qweight[Word(0, i / 8)] |= q << (4 * (i % 8)); break;
                case 2: qweight[Word(0, i / 16)] |= q << (2 * (i % 16)); break;
                default:
                    qweight[Word(i / 64, i % 64 / 16)] |= (q & 0x3) << (2 * (i % 16));
                    qweight[Word(2, i / 32)] |= (q >> 2) << (i % 32);
                    break;
            }
        }
    }

    /// <summary>
    /// W4 and W2 in the natural order: a GPTQ word (32/bits consecutive inputs of one output, the first in the low
    /// bits) is already the layout's word for those inputs, since a chunk is four such words in input order. So the
    /// repack is a transpose of qweight [words, N] into [N, chunks·4] (the padding words of the last chunk stay 0, and
    /// the unused high bits of a last partial word are masked, as <see cref="RepackColumn"/> never sets them), done in
    /// cache-sized tiles, in parallel over the columns: 7B-shape loads were dominated by the per-code path.
    /// </summary>
    private static void TransposeWords(int[] source, uint[] qweight, int n, int k, int bits, int chunks)
    {
        int perWord = 32 / bits, words = BitStream32.Words(k, bits), tail = k % perWord;
        uint lastMask = tail == 0 ? uint.MaxValue : (1u << (bits * tail)) - 1;
        long columnWords = (long)chunks * 4;
        const int Tile = 64;
        Parallel.For(0, (n + Tile - 1) / Tile, t =>
        {
            int o0 = t * Tile, o1 = Math.Min(n, o0 + Tile);
            for (int w0 = 0; w0 < words; w0 += Tile)
            {
                int w1 = Math.Min(words, w0 + Tile);
                for (int o = o0; o < o1; o++)
                {
                    long column = o * columnWords;
                    for (int w = w0; w < w1; w++)
                        qweight[column + w] = (uint)source[(long)w * n + o] & (w == words - 1 ? lastMask : uint.MaxValue);
                }
            }
        });
    }

    /// <summary>
    /// Null for the natural group order (g_idx[c] = c / length). For act-order (desc_act) checkpoints, whose g_idx
    /// assigns every group its natural number of columns but scattered over K, the order of the input columns that
    /// makes each group contiguous: the columns of group 0 (ascending), then of group 1, ... — so layout position j is
    /// in group j / length as the kernels assume, and holds input column permutation[j]. Any other g_idx (a group with
    /// more or fewer columns than its natural length, or out of range) is refused naming the tensor.
    /// </summary>
    internal static int[]? ActOrderPermutation(ReadOnlySpan<int> gIdx, GroupLayout layout, string tensor)
    {
        int k = gIdx.Length, groups = layout.Groups;
        bool natural = true;
        var count = new int[groups];
        for (int c = 0; c < k; c++)
        {
            int g = gIdx[c];
            if (g < 0 || g >= groups)
                throw new QuantNativeException($"{tensor}: g_idx[{c}] = {g}; expected a group in 0..{groups - 1}");
            natural &= g == layout.GroupOf(c);
            count[g]++;
        }
        if (natural) return null;
        for (int g = 0; g < groups; g++)
        {
            int expected = g == groups - 1 ? layout.LastGroupLength : layout.Length;
            if (count[g] != expected)
                throw new QuantNativeException(
                    $"{tensor}: g_idx puts {count[g]} input columns in group {g}, expected {expected}: the low-bit kernel " +
                    "layout takes the natural group order or an act-order (desc_act) permutation of it, where every group " +
                    $"keeps its {layout.Length} columns");
        }
        var permutation = new int[k];
        var next = new int[groups];
        for (int g = 0; g < groups; g++) next[g] = g * layout.Length;
        for (int c = 0; c < k; c++) permutation[next[gIdx[c]]++] = c;
        return permutation;
    }

    private static void Require(int length, (int Rows, int Columns) shape, string tensor, string what)
    {
        if (length != (long)shape.Rows * shape.Columns)
            throw new QuantNativeException(
                $"{tensor}.{what}: {length} elements, expected [{shape.Rows}, {shape.Columns}] = {(long)shape.Rows * shape.Columns}");
    }
}
