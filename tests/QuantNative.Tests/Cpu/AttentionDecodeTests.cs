using NUnit.Framework;
using QuantNative.Cpu;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// One decoded token's attention in float32 (CausalAttention's vector decode step) against the same step in float64
/// on the same inputs, ‖f − d‖/‖d‖ within <see cref="Tolerances.Fp32VsFloat64OpRel"/>: grouped-query heads, a head
/// dimension with and without a vector tail, positions from the first to past a window, with and without the window.
/// (The float64 step itself is checked against the whole sequence in SlidingWindowAttentionTests.)
/// </summary>
public class AttentionDecodeTests
{
    [TestCase(8, 2, 64, 0)]
    [TestCase(8, 2, 64, 7)]
    [TestCase(6, 3, 12, 0)]
    [TestCase(4, 4, 5, 3)]
    public void FloatStepMatchesTheDoubleStep(int heads, int kvHeads, int headDim, int window)
    {
        var r = new Random(heads * 100 + headDim + window);
        int positions = 301, qWidth = heads * headDim, kvWidth = kvHeads * headDim;
        double[] Uniform(int n, double scale) => Enumerable.Range(0, n).Select(_ => (r.NextDouble() * 2 - 1) * scale).ToArray();
        // Scores of a few units: the softmax is neither uniform nor one-hot.
        var kd = Uniform(positions * kvWidth, 2);
        var vd = Uniform(positions * kvWidth, 1);
        var kf = kd.Select(v => (float)v).ToArray();
        var vf = vd.Select(v => (float)v).ToArray();
        foreach (int position in new[] { 0, 1, 5, 37, 300 })
        {
            var qd = Uniform(qWidth, 2);
            var qf = qd.Select(v => (float)v).ToArray();
            // The double step sees the float inputs exactly, so only the float arithmetic differs.
            var expected = new double[qWidth];
            CausalAttention.Forward(expected, qf.Select(v => (double)v).ToArray(), kf.Select(v => (double)v).ToArray(),
                vf.Select(v => (double)v).ToArray(), 1, position, heads, kvHeads, headDim, window);
            var actual = Enumerable.Repeat(float.NaN, qWidth).ToArray();
            CausalAttention.Forward(actual, qf, kf, vf, 1, position, heads, kvHeads, headDim, window);
            double diff = 0, norm = 0;
            for (int i = 0; i < qWidth; i++)
            {
                diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
                norm += expected[i] * expected[i];
            }
            double rel = Math.Sqrt(diff / norm);
            Assert.That(rel, Is.LessThan(Tolerances.Fp32VsFloat64OpRel), $"position {position}: relative error {rel:G3}");
        }
    }
}
