using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned.Lwc;
using QuantNative.Verification;

namespace QuantNative.Tests.Quantization;

/// <summary>
/// What a learned symmetric clipping run stores (LwcLinear.Commit): the values the fake quantizer trained with, up to
/// the fp16 rounding of the scale, with every group at GPTQ's zero 2^(bits−1) (z = h − 1 groups flipped to codes
/// qmax − q and scale −s), and the range a K-quant export starts from.
/// </summary>
public class SymmetricClippingCommitTests
{
    [TestCase(4, 32)]
    [TestCase(3, 16)]
    [TestCase(2, 64)]
    public void TheCommitIsTheTrainedQuantizerWithAnFp16Scale(int bits, int group)
    {
        var shape = new LwcShape(11, 192, group, bits, LwcGrid.Symmetric);
        var x = LwcInputs.Create(TestRandom.New(), shape, special: false);
        var config = new QuantizerConfig(bits, group, symmetric: true);
        var lwc = new LwcLinear("blk.0.wq", x.W, shape.Rows, shape.Cols, config);
        Array.Copy(x.U, lwc.U.Value, x.U.Length);
        var trained = new float[shape.Elements];
        lwc.Forward(trained);
        var o = LwcOutputs.Reference(x, ScaleClamp.Default);

        var m = lwc.Commit(config);
        Assert.That(m.Zeros, Is.All.EqualTo(shape.Half), "GPTQ's symmetric zero everywhere");
        Assert.That(m.Scales, Has.Some.Negative.And.Some.Positive, "groups of both sides");
        var stored = m.Dequantize();
        int differentCodes = 0;
        for (int i = 0; i < stored.Length; i++)
        {
            int p = i / shape.Cols * shape.Groups + shape.Layout.GroupOf(i % shape.Cols);
            float s = o.Scale[p];
            // Same side as trained: the stored scale is ±fp16(s), negative exactly for the z = h − 1 groups.
            Assert.That(m.Scales[p], Is.EqualTo(o.Zero[p] == shape.Half ? (float)(Half)s : -(float)(Half)s), $"scale of group {p}");
            // Same values up to the scale's rounding: |q − z|·|s − fp16(s)| ≤ h·2⁻¹¹·|s|, and a code may move by one
            // where w/s lies within that rounding of a half.
            double bound = shape.Half * Math.Pow(2, -11) * s;
            if (Math.Abs(stored[i] - trained[i]) > bound * 1.0001)
            {
                differentCodes++;
                Assert.That(Math.Abs(stored[i] - trained[i]), Is.LessThanOrEqualTo(s * (1 + 1e-3) + bound), $"element {i}");
            }
        }
        Assert.That(differentCodes, Is.LessThanOrEqualTo(stored.Length / 100), "codes moved by the fp16 scale");
        TestContext.Out.WriteLine($"{differentCodes} of {stored.Length} codes moved by one");

        // The K-quant start: the grid's span with the side of the largest magnitude the longer one.
        var (min, max) = lwc.ClipRanges();
        for (int p = 0; p < shape.GroupCount; p++)
        {
            float s = o.Scale[p], z = o.Zero[p];
            Assert.That(min[p], Is.EqualTo(-z * s).Within(1e-6).Percent, $"min of group {p}");
            Assert.That(max[p], Is.EqualTo((shape.MaxCode - z) * s).Within(1e-6).Percent, $"max of group {p}");
        }
    }
}
