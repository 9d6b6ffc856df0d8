using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Tests.Inference;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// CausalAttention's sliding window (Mistral: query i sees keys i − W &lt; j ≤ i) on the CPU: against the float64
/// straight-line definition, over a KV cache at positions past 0 (decoding), and reduced to plain causal when the
/// window covers the sequence. Its gradients are checked in <see cref="OpGradientTests"/>, the CUDA kernels in
/// Cuda/TrainKernelTests.
/// </summary>
public class SlidingWindowAttentionTests
{
    private const int Heads = 4, KvHeads = 2, HeadDim = 8;
    private const int QWidth = Heads * HeadDim, KvWidth = KvHeads * HeadDim;

    private static (double[] Q, double[] K, double[] V) Inputs(int tokens, int seed)
    {
        var random = new Random(seed);
        // Scores of a few units, so the softmax is neither uniform nor one-hot and every key's weight shows.
        return (Uniform(random, tokens * QWidth, -2, 2), Uniform(random, tokens * KvWidth, -2, 2),
            Uniform(random, tokens * KvWidth));
    }

    // 300 tokens: the second query tile (256) starts its keys inside the first tile's.
    [TestCase(17, 1)] [TestCase(17, 3)] [TestCase(17, 16)] [TestCase(300, 37)]
    public void Window_MatchesTheStraightLineDefinition_AndDiffersFromPlainCausal(int tokens, int window)
    {
        var (q, k, v) = Inputs(tokens, tokens + window);
        var o = Poisoned<double>(tokens * QWidth);
        CausalAttention.Forward(o, q, k, v, tokens, 0, Heads, KvHeads, HeadDim, window);

        double windowed = RelativeError(o, Reference(q, k, v, tokens, window));
        double causal = RelativeError(o, Reference(q, k, v, tokens, 0));
        TestContext.Out.WriteLine($"window {window}: against its definition {windowed:G3}, against plain causal {causal:G3}");
        Assert.That(windowed, Is.LessThan(Tolerances.Float64BlockVsStraightLineRel), "against the windowed definition");
        // The comparison above could not pass with the window ignored.
        Assert.That(causal, Is.GreaterThan(Tolerances.Float64BlockVsStraightLineRel), "against plain causal");
    }

    [Test]
    public void WindowOne_OutputsEachQuerysOwnValueRow()
    {
        int tokens = 9;
        var (q, k, v) = Inputs(tokens, 1);
        var o = Poisoned<double>(tokens * QWidth);
        var lse = Poisoned<double>(Heads * tokens);
        CausalAttention.Forward(o, lse, q, k, v, tokens, 0, Heads, KvHeads, HeadDim, window: 1);
        // One key, the query's own: P = exp(0)/1 = 1 exactly, so O_i is V_i exactly.
        for (int i = 0; i < tokens; i++)
            for (int h = 0; h < Heads; h++)
            {
                int kvh = h / (Heads / KvHeads);
                var own = v.AsSpan(i * KvWidth + kvh * HeadDim, HeadDim).ToArray();
                Assert.That(o.AsSpan(i * QWidth + h * HeadDim, HeadDim).ToArray(), Is.EqualTo(own), $"O[{i}], head {h}");
            }
    }

    /// <summary>
    /// Decoding: the whole sequence's windowed forward against the same tokens run as a prefill of the first ones and
    /// then one token at a time over the cache (firstPosition &gt; 0). The window is on absolute positions, so each
    /// decoded row sees the same keys as in the whole sequence; with a window that ignored firstPosition the late rows
    /// would see the cache's first keys instead.
    /// </summary>
    [TestCase(17, 5, 11)] [TestCase(17, 1, 16)] [TestCase(12, 30, 4)]
    public void DecodeOverTheCache_EqualsTheWholeSequence(int tokens, int window, int prefill)
    {
        var (q, k, v) = Inputs(tokens, 7 * tokens + window);
        var whole = Poisoned<double>(tokens * QWidth);
        CausalAttention.Forward(whole, q, k, v, tokens, 0, Heads, KvHeads, HeadDim, window);

        // The cache holds every key and value; a step at position p reads rows 0..p only.
        var stepped = Poisoned<double>(tokens * QWidth);
        var rows = Poisoned<double>(prefill * QWidth);
        CausalAttention.Forward(rows, q, k, v, prefill, 0, Heads, KvHeads, HeadDim, window);
        rows.CopyTo(stepped, 0);
        var row = Poisoned<double>(QWidth);
        for (int p = prefill; p < tokens; p++)
        {
            CausalAttention.Forward(row, q[(p * QWidth)..((p + 1) * QWidth)], k, v, 1, p, Heads, KvHeads, HeadDim, window);
            row.CopyTo(stepped, p * QWidth);
        }
        double scale = whole.Max(Math.Abs);
        Assert.That(stepped, Is.EqualTo(whole).Within(Tolerances.Float64ReorderedSumRel * scale), "decoded rows");
        if (window < tokens)
        {
            // The last row differs from plain causal's by more than the tolerance: the window is really applied.
            var causal = Poisoned<double>(QWidth);
            CausalAttention.Forward(causal, q[((tokens - 1) * QWidth)..], k, v, 1, tokens - 1, Heads, KvHeads, HeadDim);
            double differs = causal.Select((c, n) => Math.Abs(c - stepped[(tokens - 1) * QWidth + n])).Max();
            Assert.That(differs, Is.GreaterThan(Tolerances.Float64ReorderedSumRel * scale), "last row against plain causal");
        }
    }

    /// <summary>A window as long as the sequence or longer keeps every causal key: the same float operations as plain
    /// causal, forward and backward, bit for bit (across the query tile too).</summary>
    [TestCase(17, 17)] [TestCase(17, 18)] [TestCase(17, int.MaxValue)] [TestCase(300, 300)]
    public void WindowCoveringTheSequence_IsPlainCausal_BitForBit(int tokens, int window)
    {
        var (q64, k64, v64) = Inputs(tokens, tokens);
        float[] q = ToFloat(q64), k = ToFloat(k64), v = ToFloat(v64), dO = ToFloat(Uniform(new Random(2), tokens * QWidth));
        float[][] Run(int w)
        {
            var (o, lse) = (Poisoned<float>(tokens * QWidth), Poisoned<float>(Heads * tokens));
            var (dQ, dK, dV) = (Poisoned<float>(q.Length), Poisoned<float>(k.Length), Poisoned<float>(v.Length));
            CausalAttention.Forward(o, lse, q, k, v, tokens, 0, Heads, KvHeads, HeadDim, w);
            CausalAttention.Backward(dQ, dK, dV, dO, q, k, v, lse, tokens, Heads, KvHeads, HeadDim, w);
            return [o, lse, dQ, dK, dV];
        }
        var (plain, windowed) = (Run(0), Run(window));
        string[] names = ["output", "logSumExp", "dQ", "dK", "dV"];
        for (int n = 0; n < names.Length; n++) Assert.That(windowed[n], Is.EqualTo(plain[n]), names[n]);
    }

    [Test]
    public void NegativeWindow_IsRefused()
    {
        var (q, k, v) = Inputs(3, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            CausalAttention.Forward(new double[q.Length], q, k, v, 3, 0, Heads, KvHeads, HeadDim, window: -2))!;
        Assert.That(e.Message, Does.Contain("window").And.Contain(">= 0"));
    }

    private static double[] Reference(double[] q, double[] k, double[] v, int tokens, int window)
    {
        var att = DoubleForward.Attention(To2D(q, tokens, QWidth), To2D(k, tokens, KvWidth), To2D(v, tokens, KvWidth),
            Heads, KvHeads, HeadDim, window);
        return att.Cast<double>().ToArray(); // row-major, as the flat layout
    }

    private static double[,] To2D(double[] a, int rows, int cols)
    {
        var m = new double[rows, cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) m[r, c] = a[r * cols + c];
        return m;
    }

    /// <summary>‖actual − expected‖₂/‖expected‖₂.</summary>
    private static double RelativeError(double[] actual, double[] expected)
    {
        double diff2 = 0, norm2 = 0;
        for (int n = 0; n < expected.Length; n++)
        {
            double d = actual[n] - expected[n];
            diff2 += d * d;
            norm2 += expected[n] * expected[n];
        }
        return Math.Sqrt(diff2 / norm2);
    }
}
