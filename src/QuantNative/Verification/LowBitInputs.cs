using QuantNative.Formats.Gptq;
using QuantNative.Model.Quantized;

namespace QuantNative.Verification;

/// <summary>Random asymmetric quantized matrices in the GPTQ layout, and fp16 activations, for the low-bit tests.</summary>
public static class LowBitInputs
{
    /// <summary>Codes uniform in [0, qmax], fp16 scales in [0.005, 0.055], zeros uniform (≥ 1 for v1, which cannot
    /// store 0), natural g_idx. <paramref name="signedSymmetric"/>: a symmetric matrix as learned symmetric clipping
    /// stores it, zeros 2^(bits−1) and scales of either sign.</summary>
    public static QuantizedMatrix Matrix(Random r, int n, int k, int bits, int groupSize, GptqCheckpointFormat format,
        bool signedSymmetric = false)
    {
        var config = new QuantizerConfig(bits, groupSize, symmetric: signedSymmetric);
        var layout = config.Layout(k);
        int qmax = config.MaxCode, groups = layout.Groups;
        var codes = new byte[n * k];
        for (int i = 0; i < codes.Length; i++) codes[i] = (byte)r.Next(qmax + 1);
        var scales = new float[n * groups];
        var zeros = new int[n * groups];
        int minZero = format == GptqCheckpointFormat.V1 ? 1 : 0;
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = (float)(Half)(0.005 + 0.05 * r.NextDouble());
            zeros[i] = r.Next(minZero, qmax + 1);
            if (!signedSymmetric) continue;
            zeros[i] = 1 << (bits - 1);
            if (r.Next(2) == 1) scales[i] = -scales[i];
        }
        return new QuantizedMatrix(n, k, config, codes, scales, zeros, QuantizedMatrix.NaturalGroupIndex(layout));
    }

    public static PackedGptqLinear Packed(Random r, int n, int k, int bits, int groupSize, GptqCheckpointFormat format,
        bool signedSymmetric = false) =>
        GptqPacker.Pack(Matrix(r, n, k, bits, groupSize, format, signedSymmetric), format);

    /// <summary>fp16 activations uniform in [−2, 2].</summary>
    public static Half[] Activations(Random r, int m, int k)
    {
        var x = new Half[m * k];
        for (int i = 0; i < x.Length; i++) x[i] = (Half)(4 * r.NextDouble() - 2);
        return x;
    }

    public static ushort[] Bits(Half[] x) => x.Select(BitConverter.HalfToUInt16Bits).ToArray();
}
