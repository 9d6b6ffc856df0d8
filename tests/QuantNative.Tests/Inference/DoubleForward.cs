using QuantNative.Model;

namespace QuantNative.Tests.Inference;

/// <summary>
/// The LLaMA forward written as plainly as possible in float64 (DESIGN.md §7.8, rotate-half RoPE): no BLAS, no
/// SIMD, no caching. The fast fp32 path is checked against it.
/// </summary>
public static class DoubleForward
{
    public static double[] Logits(LlamaModel m, int[] tokens)
    {
        var c = m.Config;
        int t = tokens.Length, d = c.HiddenSize;
        var x = new double[t, d];
        for (int i = 0; i < t; i++) for (int j = 0; j < d; j++) x[i, j] = m.TokenEmbedding[tokens[i] * d + j];
        foreach (var w in m.Blocks) Block(x, w, c);
        var final = Norm(x, m.FinalNorm, c.RmsNormEps);
        var logits = Linear(final, m.Output, c.VocabSize, d);
        var flat = new double[t * c.VocabSize];
        for (int i = 0; i < t; i++) for (int j = 0; j < c.VocabSize; j++) flat[i * c.VocabSize + j] = logits[i, j];
        return flat;
    }

    /// <summary>One block in place on x [T, hidden] at positions 0..T−1: h = x + Wo·Attn(n1(x)), y = h + W2·(silu(W1·n2(h)) ⊙ W3·n2(h)).</summary>
    public static void Block(double[,] x, LlamaBlockWeights w, LlamaConfig c)
    {
        int t = x.GetLength(0), d = c.HiddenSize, hd = c.HeadDim, kv = c.KvDim;
        var n = Norm(x, w.AttnNorm, c.RmsNormEps);
        var q = Linear(n, w.Wq, d, d); var k = Linear(n, w.Wk, kv, d); var v = Linear(n, w.Wv, kv, d);
        Rope(q, c.NumHeads, hd, c.RopeTheta); Rope(k, c.NumKvHeads, hd, c.RopeTheta);
        var att = Attention(q, k, v, c.NumHeads, c.NumKvHeads, hd);
        Add(x, Linear(att, w.Wo, d, d));
        var n2 = Norm(x, w.FfnNorm, c.RmsNormEps);
        var a = Linear(n2, w.WGate, c.IntermediateSize, d);
        var b = Linear(n2, w.WUp, c.IntermediateSize, d);
        for (int i = 0; i < t; i++)
            for (int j = 0; j < c.IntermediateSize; j++)
                a[i, j] = a[i, j] / (1 + Math.Exp(-a[i, j])) * b[i, j];
        Add(x, Linear(a, w.WDown, d, c.IntermediateSize));
    }

    /// <summary>
    /// Grouped-query attention of q [T, heads·hd] over k, v [T, kvHeads·hd] at positions 0..T−1, scale 1/√hd: query i
    /// sees keys j ≤ i (window 0), or i − W &lt; j ≤ i with a sliding window W.
    /// </summary>
    public static double[,] Attention(double[,] q, double[,] k, double[,] v, int heads, int kvHeads, int hd,
        int window = 0)
    {
        int t = q.GetLength(0);
        var att = new double[t, heads * hd];
        int group = heads / kvHeads;
        for (int h = 0; h < heads; h++)
        {
            int g = h / group;
            for (int i = 0; i < t; i++)
            {
                int first = window == 0 ? 0 : Math.Max(0, i - window + 1);
                var s = new double[i + 1];
                double max = double.NegativeInfinity;
                for (int j = first; j <= i; j++)
                {
                    double dot = 0;
                    for (int e = 0; e < hd; e++) dot += q[i, h * hd + e] * k[j, g * hd + e];
                    s[j] = dot / Math.Sqrt(hd);
                    max = Math.Max(max, s[j]);
                }
                double sum = 0;
                for (int j = first; j <= i; j++) sum += s[j] = Math.Exp(s[j] - max);
                for (int e = 0; e < hd; e++)
                {
                    double o = 0;
                    for (int j = first; j <= i; j++) o += s[j] / sum * v[j, g * hd + e];
                    att[i, h * hd + e] = o;
                }
            }
        }
        return att;
    }

    private static double[,] Norm(double[,] x, float[] gamma, double eps)
    {
        int t = x.GetLength(0), d = x.GetLength(1);
        var y = new double[t, d];
        for (int i = 0; i < t; i++)
        {
            double ss = 0;
            for (int j = 0; j < d; j++) ss += x[i, j] * x[i, j];
            double r = Math.Sqrt(ss / d + eps);
            for (int j = 0; j < d; j++) y[i, j] = gamma[j] * x[i, j] / r;
        }
        return y;
    }

    private static double[,] Linear(double[,] x, float[] w, int outDim, int inDim)
    {
        int t = x.GetLength(0);
        var y = new double[t, outDim];
        for (int i = 0; i < t; i++)
            for (int o = 0; o < outDim; o++)
            {
                double s = 0;
                for (int e = 0; e < inDim; e++) s += x[i, e] * w[o * inDim + e];
                y[i, o] = s;
            }
        return y;
    }

    private static void Rope(double[,] x, int heads, int hd, double theta)
    {
        int t = x.GetLength(0), half = hd / 2;
        for (int p = 0; p < t; p++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < half; i++)
                {
                    double angle = p / Math.Pow(theta, 2.0 * i / hd);
                    double a = x[p, h * hd + i], b = x[p, h * hd + i + half];
                    x[p, h * hd + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    x[p, h * hd + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
    }

    private static void Add(double[,] x, double[,] y)
    {
        for (int i = 0; i < x.GetLength(0); i++) for (int j = 0; j < x.GetLength(1); j++) x[i, j] += y[i, j];
    }
}
