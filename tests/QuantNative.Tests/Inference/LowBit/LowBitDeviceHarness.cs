using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Inference.LowBit;
using QuantNative.Verification;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>What the GEMV, MMA and act-order tests share: one LowBitDeviceLinear forward on a runtime with a poisoned
/// output, and the comparisons with the CPU low-bit matmul (relative to Σ|x·ŵ|, the error scale of a reordered sum).</summary>
internal static class LowBitDeviceHarness
{
    /// <summary>Uploads <paramref name="linear"/>, runs Forward <paramref name="repeats"/> times into an output
    /// poisoned with NaN (0xff bytes, NaN in both dtypes) and returns it as float.</summary>
    public static float[] Forward(ICudaRuntime runtime, LowBitLinear linear, Half[] x, int m, LowBitOutput output,
        int? splits = null, int repeats = 1) => LowBitRun.OnDevice(runtime, linear, x, m, output, splits, repeats);

    /// <summary>The tolerance of the kernel LowBitDeviceLinear picks for <paramref name="m"/> rows.</summary>
    public static double SumRelFor(int m) =>
        m <= LowBitGemvLaunch.MaxM ? Tolerances.LowBitGemvSumRel : Tolerances.LowBitMmaSumRel;

    /// <summary>Device output against the CPU's, per output within <paramref name="sumRel"/>·Σ|x·ŵ| (+ the fp16
    /// rounding for fp16 outputs); <paramref name="maxK"/> is the K the tolerance's reasoning assumes.</summary>
    public static void AssertMatchesCpu(LowBitWeights w, Half[] x, int m, float[] expected, float[] actual,
        LowBitOutput output, double sumRel, int maxK, double absolute = 0)
    {
        Assert.That(w.K, Is.LessThanOrEqualTo(maxK), $"the tolerance's reasoning assumes K ≤ {maxK}");
        var deq = w.Dequantize();
        int n = w.N, k = w.K;
        double worst = 0;
        for (int i = 0; i < m; i++)
        for (int o = 0; o < n; o++)
        {
            double abs = 0;
            for (int c = 0; c < k; c++) abs += Math.Abs((double)(float)x[i * k + c] * deq[(long)o * k + c]);
            float e = expected[i * n + o], a = actual[i * n + o];
            double tol = sumRel * abs + absolute;
            if (output == LowBitOutput.Float16) tol += Tolerances.LowBitGemvHalfOutputRel * Math.Abs(e) + Math.Pow(2, -25);
            worst = Math.Max(worst, Math.Abs(a - e) / Math.Max(abs, 1e-30));
            Assert.That(float.IsFinite(a), $"y[{i}, {o}] = {a} (unwritten or poisoned)");
            Assert.That(a, Is.EqualTo(e).Within(tol), $"y[{i}, {o}] (Σ|x·ŵ| = {abs:G4})");
        }
        TestContext.Out.WriteLine($"worst |Δ| / Σ|x·ŵ| = {worst:G3}");
    }

    /// <summary>The CPU matmul y = x·Ŵᵀ against the product summed in double, within
    /// <see cref="Tolerances.LowBitGemvSumRel"/>·Σ|x·ŵ| per output.</summary>
    public static void AssertCpuMatchesDouble(float[] y, Half[] x, float[] deq, int m, int n, int k)
    {
        for (int i = 0; i < m; i++)
        for (int o = 0; o < n; o++)
        {
            double sum = 0, abs = 0;
            for (int c = 0; c < k; c++)
            {
                double p = (double)(float)x[i * k + c] * deq[(long)o * k + c];
                sum += p;
                abs += Math.Abs(p);
            }
            Assert.That(y[i * n + o], Is.EqualTo(sum).Within(Tolerances.LowBitGemvSumRel * abs), $"y[{i}, {o}]");
        }
    }
}
