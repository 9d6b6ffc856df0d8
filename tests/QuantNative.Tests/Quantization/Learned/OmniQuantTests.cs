using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Learned;

namespace QuantNative.Tests.Quantization.Learned;

/// <summary>
/// The OmniQuant loop (DESIGN.md §7.4) on stories260K with <see cref="StoriesSplit"/>'s 8 calibration windows of 128
/// tokens and a few epochs, so each run takes seconds.
/// </summary>
public class OmniQuantTests
{
    private static QuantizationResult Run(int bits, int group, int epochs, GptqCheckpointFormat format = GptqCheckpointFormat.V2)
    {
        using var source = StoriesSplit.Open();
        return LearnedQuantizer.Run(source, StoriesSplit.Windows(), new QuantizerConfig(bits, group), format,
            new LearnedOptions { Epochs = epochs });
    }

    /// <summary>
    /// Per block, the training objective over all windows (MSE against the fp target, plus the aug term at 2 bits):
    /// with the committed (trained, fp16-scaled) weights it is below the one with the initial clipping γ = β = σ(4).
    /// </summary>
    [TestCase(3, 32)]
    [TestCase(3, -1)]
    [TestCase(2, 32)]
    [TestCase(2, -1)]
    public void TrainingReducesTheBlockLoss(int bits, int group)
    {
        var q = Run(bits, group, epochs: 6);
        var report = q.Learned!;
        Assert.That(report.Blocks, Has.Count.EqualTo(q.Model.Config.NumLayers));
        Assert.That(report.AugLoss, Is.EqualTo(bits == 2));
        foreach (var b in report.Blocks)
        {
            TestContext.Out.WriteLine($"W{bits} g{group} block {b.Block}: {b.Initial:G5} → {b.Final:G5} " +
                                      $"(epochs {b.FirstEpoch:G5} → {b.LastEpoch:G5})");
            Assert.That(b.Final, Is.LessThan(b.Initial), $"block {b.Block}");
        }
        Assert.That(report.PeakBytes, Is.GreaterThan(3L * StoriesSplit.Samples * StoriesSplit.SequenceLength * 64 * 4 - 1));
    }

    /// <summary>
    /// With 0 epochs the parameters stay at 4.0, so every stored matrix is the §7.1 quantizer of the range
    /// [σ(4)·min(w), σ(4)·max(w)] per group with the fp16-rounded scale, computed here directly, bit for bit.
    /// </summary>
    [TestCase(3, 32)]
    [TestCase(2, -1)]
    [TestCase(4, 32)]
    public void ZeroEpochsEqualRtnWithSigmoidFourClipping(int bits, int group)
    {
        var q = Run(bits, group, epochs: 0);
        using var source = StoriesSplit.Open();
        var c = source.Config;
        int qmax = (1 << bits) - 1;
        float sigma4 = 1f / (1f + MathF.Exp(-4f));
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            var w = source.LoadBlock(layer);
            foreach (var linear in BlockLinears.All)
            {
                var m = q.Model.Blocks[layer].Linears[linear.Part];
                var (rows, cols) = linear.Shape(c);
                float[] weights = linear.Weights(w);
                int length = group == -1 ? cols : group, groups = (cols + length - 1) / length;
                for (int r = 0; r < rows; r++)
                for (int g = 0; g < groups; g++)
                {
                    int start = r * cols + g * length, end = Math.Min(start + length, (r + 1) * cols);
                    float max = float.NegativeInfinity, min = float.PositiveInfinity;
                    for (int i = start; i < end; i++) { max = MathF.Max(max, weights[i]); min = MathF.Min(min, weights[i]); }
                    float xmax = sigma4 * max, xmin = sigma4 * min;
                    float s = (float)(Half)Math.Clamp((xmax - xmin) / qmax, 1e-5f, 1e4f);
                    int z = (int)Math.Clamp(MathF.Round(-xmin / s, MidpointRounding.ToEven), 0f, qmax);
                    int p = r * groups + g;
                    Assert.That(BitConverter.SingleToInt32Bits(m.Scales[p]), Is.EqualTo(BitConverter.SingleToInt32Bits(s)),
                        $"{layer} {linear.Part} scale [{r}, {g}]");
                    Assert.That(m.Zeros[p], Is.EqualTo(z), $"{layer} {linear.Part} zero [{r}, {g}]");
                    for (int i = start; i < end; i++)
                    {
                        int code = (int)Math.Clamp(MathF.Round(weights[i] / s, MidpointRounding.ToEven) + z, 0f, qmax);
                        if (m.Codes[i] != code)
                            Assert.Fail($"{layer} {linear.Part} code [{r}, {i - r * cols}]: {m.Codes[i]}, expected {code}");
                    }
                }
            }
        }
        Assert.That(q.Learned!.Blocks.All(b => b.Final > 0 && double.IsNaN(b.FirstEpoch)));
    }

    [Test]
    public void BadOptionsNameTheOption()
    {
        using var source = StoriesSplit.Open();
        var e = Assert.Throws<QuantNativeException>(() => LearnedQuantizer.Run(source, StoriesSplit.Windows(),
            new QuantizerConfig(4, 32), GptqCheckpointFormat.V2, new LearnedOptions { Epochs = -1 }));
        Assert.That(e!.Message, Does.Contain("--epochs -1"));
        e = Assert.Throws<QuantNativeException>(() => LearnedQuantizer.Run(source, StoriesSplit.Windows(),
            new QuantizerConfig(4, 32), GptqCheckpointFormat.V2, new LearnedOptions { LearningRate = 0 }));
        Assert.That(e!.Message, Does.Contain("--lwc-lr 0"));
    }

    [Test]
    public void DefaultEpochsAre20And40AtTwoBits()
    {
        var o = new LearnedOptions();
        Assert.That((o.EpochsFor(4), o.EpochsFor(3), o.EpochsFor(2)), Is.EqualTo((20, 20, 40)));
        Assert.That(new LearnedOptions { Epochs = 0 }.EpochsFor(2), Is.EqualTo(0));
    }

    /// <summary>The MSE and its gradient 2(y − t)/N against the definition, and accumulation of the aug term.</summary>
    [Test]
    public void MseAndItsGradient()
    {
        float[] y = [1f, 2f, -3f, 0.5f], t = [0f, 2f, -1f, 1f];
        var dy = new float[4];
        double loss = MseLoss.Forward(y, t, y.Length);
        MseLoss.Backward(dy, 1.0, y, t, y.Length);
        Assert.That(loss, Is.EqualTo((1 + 0 + 4 + 0.25) / 4).Within(1e-15));
        Assert.That(dy, Is.EqualTo(new[] { 0.5f, 0f, -1f, -0.25f }));
        MseLoss.Backward(dy, 1.0, y, t, y.Length, accumulate: true);
        Assert.That(dy, Is.EqualTo(new[] { 1f, 0f, -2f, -0.5f }));
    }
}
