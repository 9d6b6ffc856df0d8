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

    /// <summary>One block in place on x [T, hidden] at positions 0..T−1: h = x + Wo·Attn(n1(x)), y = h + W2·(silu(W1·n2(h)) ⊙ W3·n2(h)),
    /// with the block's biases (added after their linears), q/k norms (RMSNorm of each head before RoPE) and sliding
    /// window.</summary>
    public static void Block(double[,] x, LlamaBlockWeights w, LlamaConfig c)
    {
        int t = x.GetLength(0), d = c.HiddenSize, hd = c.HeadDim, kv = c.KvDim, qd = c.QDim;
        var e = w.Extras;
        var n = Norm(x, w.AttnNorm, c.RmsNormEps);
        var q = Linear(n, w.Wq, qd, d, e.QBias); var k = Linear(n, w.Wk, kv, d, e.KBias); var v = Linear(n, w.Wv, kv, d, e.VBias);
        if (e.QNorm != null) HeadNorm(q, c.NumHeads, hd, e.QNorm, c.RmsNormEps);
        if (e.KNorm != null) HeadNorm(k, c.NumKvHeads, hd, e.KNorm, c.RmsNormEps);
        var inverseFrequencies = c.Rope.InverseFrequencies(hd);
        Rope(q, c.NumHeads, hd, inverseFrequencies); Rope(k, c.NumKvHeads, hd, inverseFrequencies);
        var att = Attention(q, k, v, c.NumHeads, c.NumKvHeads, hd, c.SlidingWindow);
        Add(x, Linear(att, w.Wo, d, qd, e.OBias));
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

    /// <summary>RMSNorm over each head of x [T, heads·hd] with one weight vector [hd] (Qwen3's q_norm/k_norm).</summary>
    private static void HeadNorm(double[,] x, int heads, int hd, float[] gamma, double eps)
    {
        for (int i = 0; i < x.GetLength(0); i++)
            for (int h = 0; h < heads; h++)
            {
                double ss = 0;
                for (int j = 0; j < hd; j++) ss += x[i, h * hd + j] * x[i, h * hd + j];
                double r = Math.Sqrt(ss / hd + eps);
                for (int j = 0; j < hd; j++) x[i, h * hd + j] = gamma[j] * x[i, h * hd + j] / r;
            }
    }

    private static double[,] Linear(double[,] x, float[] w, int outDim, int inDim, float[]? bias = null)
    {
        int t = x.GetLength(0);
        var y = new double[t, outDim];
        for (int i = 0; i < t; i++)
            for (int o = 0; o < outDim; o++)
            {
                double s = bias?[o] ?? 0;
                for (int e = 0; e < inDim; e++) s += x[i, e] * w[o * inDim + e];
                y[i, o] = s;
            }
        return y;
    }

    private static void Rope(double[,] x, int heads, int hd, double[] inverseFrequencies)
    {
        int t = x.GetLength(0), half = hd / 2;
        for (int p = 0; p < t; p++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < half; i++)
                {
                    double angle = p * inverseFrequencies[i];
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
