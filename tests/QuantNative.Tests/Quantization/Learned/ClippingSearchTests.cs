using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned.Lwc;
using QuantNative.Tests.Formats;

namespace QuantNative.Tests.Quantization.Learned;

/// <summary>
/// --lwc-init-search (<see cref="ClippingSearch"/>): the starting clipping lowers the importance-weighted error of the
/// fake quantizer that training then uses — the error it reports is what <see cref="LwcLinear.Forward"/> gives with the
/// parameters it chose — it clips an outlier whose input column carries no energy, and leaves a linear without
/// input energy at σ(4).
/// </summary>
public class ClippingSearchTests
{
    private static double WeightedError(LwcLinear lwc, float[] importance)
    {
        var wq = new float[lwc.Shape.Elements];
        lwc.Forward(wq);
        double e = 0;
        for (int i = 0; i < wq.Length; i++)
        {
            double d = lwc.Weights[i] - wq[i];
            e += importance[i % lwc.Shape.Cols] * d * d;
        }
        return e;
    }

    [TestCase(5, 32, false, false)]
    [TestCase(4, 32, false, true)]
    [TestCase(3, 16, true, false)]
    [TestCase(2, 64, false, false)]
    public void TheSearchLowersTheWeightedErrorOfTheFakeQuantizer(int bits, int group, bool sym, bool freeMin)
    {
        var rng = TestRandom.New();
        int rows = 9, cols = 192;
        var w = RandomModels.Floats(rng, (long)rows * cols);
        var importance = Enumerable.Range(0, cols).Select(_ => (float)Math.Exp(3 * rng.NextDouble())).ToArray();
        var lwc = new LwcLinear("blk.0.wq", w, rows, cols, new QuantizerConfig(bits, group, sym, freeMin));
        double start = WeightedError(lwc, importance);
        var (before, after) = ClippingSearch.Initialize(lwc, importance);
        double searched = WeightedError(lwc, importance);
        TestContext.Out.WriteLine($"{lwc.Shape}: weighted error {before:G6} → {after:G6}");
        Assert.That(before, Is.EqualTo(start).Within(1e-9).Percent, "the search starts from σ(4)");
        Assert.That(searched, Is.EqualTo(after).Within(1e-9).Percent, "its error is the fake quantizer's with the chosen u, l");
        Assert.That(after, Is.LessThan(0.97 * before), "lower than σ(4)'s");
        if (sym) Assert.That(lwc.L.Value, Is.All.EqualTo(4f), "the symmetric grid has no second factor");
    }

    [Test]
    public void AnOutlierInADeadColumnIsClipped()
    {
        // One group of 32: weights in ±0.1, one outlier 1.0 in a column whose inputs are always zero.
        var w = Enumerable.Range(0, 32).Select(i => i == 7 ? 1f : 0.1f * MathF.Sin(i)).ToArray();
        var importance = Enumerable.Range(0, 32).Select(i => i == 7 ? 0f : 1f).ToArray();
        var lwc = new LwcLinear("blk.0.wq", w, 1, 32, new QuantizerConfig(4, 32, freeMinimum: true));
        ClippingSearch.Initialize(lwc, importance);
        Assert.That(LwcFakeQuant.Sigmoid(lwc.U.Value[0]), Is.LessThan(0.81f), "γ at the smallest candidate, 0.80");
    }

    [Test]
    public void NoInputEnergyLeavesTheStart()
    {
        var w = RandomModels.Floats(new Random(3), 4L * 64);
        var lwc = new LwcLinear("blk.0.wq", w, 4, 64, new QuantizerConfig(4, 32));
        Assert.That(ClippingSearch.Initialize(lwc, new float[64]), Is.EqualTo((0.0, 0.0)));
        Assert.That(lwc.U.Value, Is.All.EqualTo(4f));
        Assert.That(lwc.L.Value, Is.All.EqualTo(4f));
    }
}
