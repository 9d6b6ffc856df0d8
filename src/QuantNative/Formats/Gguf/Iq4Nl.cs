namespace QuantNative.Formats.Gguf;

/// <summary>IQ4_NL (16 non-linear levels × an fp16 scale per 32 weights), the type llama.cpp falls back to for
/// Q2_K/Q3_K when a row is not a multiple of 256. quantize_row_iq4_nl_impl of ggml-quants.c with ntry 7 and weights
/// x² (what llama-quantize runs without an importance matrix).</summary>
internal static class Iq4Nl
{
    private const float GroupMaxEps = 1e-15f;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> block, int ntry = 7)
    {
        var values = Block32Codec.Iq4nlValues;
        Span<byte> l = stackalloc byte[32];
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (MathF.Abs(x[j]) > amax) { amax = MathF.Abs(x[j]); max = x[j]; }
        if (amax < GroupMaxEps)
        {
            block.Clear();
            return;
        }
        float d = ntry > 0 ? -max / values[0] : max / values[0];
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++)
        {
            int k = BestIndex(values, id * x[j]);
            l[j] = (byte)k;
            float q = values[k], w = x[j] * x[j];
            sumqx += w * q * x[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++)
        {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++)
            {
                float q = values[BestIndex(values, id * x[j])], w = x[j] * x[j];
                sumqx += w * q * x[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2)
            {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        if (ntry > 0)
        {
            float inv = d != 0 ? 1 / d : 0;
            for (int j = 0; j < 32; j++) l[j] = (byte)BestIndex(values, inv * x[j]);
        }
        Block32Codec.EncodeCodes(GgmlType.IQ4_NL, l, d, 0, block);
    }

    private static int BestIndex(sbyte[] val, float x)
    {
        if (x <= val[0]) return 0;
        if (x >= val[^1]) return val.Length - 1;
        int ml = 0, mu = val.Length - 1;
        while (mu - ml > 1)
        {
            int mav = (ml + mu) / 2;
            if (x < val[mav]) mu = mav; else ml = mav;
        }
        return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
    }
}
