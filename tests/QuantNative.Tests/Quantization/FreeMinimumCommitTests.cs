using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Formats.Gptq;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned.Lwc;
using QuantNative.Verification;

namespace QuantNative.Tests.Quantization;

/// <summary>
/// What a free-minimum clipping run stores (LwcLinear.Commit, <c>--free-min</c>): the values the fake quantizer trained
/// with (ŵ = q·s + m), up to the fp16 rounding of s and m, zeros 0 and the minimums beside the scales; a GPTQ
/// checkpoint refuses it, and the matrix refuses minimums that are not fp16 values.
/// </summary>
public class FreeMinimumCommitTests
{
    [TestCase(5, 32)]
    [TestCase(4, 32)]
    [TestCase(2, 64)]
    public void TheCommitIsTheTrainedQuantizerWithFp16ScaleAndMinimum(int bits, int group)
    {
        var shape = new LwcShape(11, 192, group, bits, LwcGrid.FreeMinimum);
        var x = LwcInputs.Create(TestRandom.New(), shape, special: false);
        var config = new QuantizerConfig(bits, group, freeMinimum: true);
        var lwc = new LwcLinear("blk.0.wq", x.W, shape.Rows, shape.Cols, config);
        Array.Copy(x.U, lwc.U.Value, x.U.Length);
        Array.Copy(x.L, lwc.L.Value, x.L.Length);
        var trained = new float[shape.Elements];
        lwc.Forward(trained);
        var o = LwcOutputs.Reference(x, ScaleClamp.Default);

        var m = lwc.Commit(config);
        Assert.That(m.Zeros, Is.All.Zero);
        Assert.That(m.Minimums, Is.Not.Null);
        var stored = m.Dequantize();
        int differentCodes = 0;
        for (int p = 0; p < shape.GroupCount; p++)
        {
            Assert.That(m.Scales[p], Is.EqualTo((float)(Half)o.Scale[p]), $"scale of group {p}");
            Assert.That(m.Minimums![p], Is.EqualTo((float)(Half)o.Zero[p]), $"minimum of group {p} (the forward's m)");
        }
        for (int i = 0; i < stored.Length; i++)
        {
            int p = LwcComparison.GroupIndex(shape, i);
            float s = o.Scale[p], mn = o.Zero[p];
            // q·|s − fp16(s)| + |m − fp16(m)| ≤ (qmax·s + |m|)·2⁻¹¹; a code may move by one near a half.
            double bound = (shape.MaxCode * s + Math.Abs(mn)) * Math.Pow(2, -11);
            Assert.That(stored[i], Is.EqualTo(m.Codes[i] * m.Scales[p] + m.Minimums![p]), "Dequantize is q·s + m");
            if (Math.Abs(stored[i] - trained[i]) > bound * 1.0001)
            {
                differentCodes++;
                Assert.That(Math.Abs(stored[i] - trained[i]), Is.LessThanOrEqualTo(s * (1 + 1e-3) + bound), $"element {i}");
            }
        }
        Assert.That(differentCodes, Is.LessThanOrEqualTo(stored.Length / 100), "codes moved by the fp16 rounding");
        TestContext.Out.WriteLine($"{differentCodes} of {stored.Length} codes moved by one");

        // The K-quant start is the learned range itself: [m, m + qmax·s] before rounding = [β·min, γ·max].
        var (min, max) = lwc.ClipRanges();
        for (int p = 0; p < shape.GroupCount; p++)
        {
            Assert.That(min[p], Is.EqualTo(o.Zero[p]), $"range min of group {p}");
            Assert.That(max[p], Is.EqualTo(o.Zero[p] + shape.MaxCode * o.Scale[p]).Within(1e-4).Percent, $"range max of group {p}");
        }

        // A width GPTQ packs is still refused for the minimums (W5 is refused for its width first).
        Assert.That(config.HasGptqPacking, Is.False);
        if (QuantizerConfig.GptqBits.Contains(bits))
        {
            var e = Assert.Throws<QuantNativeException>(() => GptqPacker.Pack(m, GptqCheckpointFormat.V2, "blk.0.wq"))!;
            Assert.That(e.Message, Does.Contain("blk.0.wq").And.Contain("free-min").And.Contain("GGUF"));
        }
    }

    [Test]
    public void MinimumsMustBeFp16ValuesAndOnlyForTheFreeMinimumQuantizer()
    {
        var free = new QuantizerConfig(4, 32, freeMinimum: true);
        var zp = new QuantizerConfig(4, 32);
        var codes = new byte[64];
        float[] scales = [0.5f, 0.25f];
        int[] zeros = [0, 0], gIdx = QuantizedMatrix.NaturalGroupIndex(free.Layout(32));
        Assert.That(new QuantizedMatrix(2, 32, free, codes, scales, zeros, gIdx, "t", [-1.5f, 0.125f]).Minimums, Has.Length.EqualTo(2));
        Assert.That(() => new QuantizedMatrix(2, 32, free, codes, scales, zeros, gIdx, "t"),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("t: no minimums"));
        Assert.That(() => new QuantizedMatrix(2, 32, zp, codes, scales, zeros, gIdx, "t", [0f, 0f]),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("which has zero points"));
        Assert.That(() => new QuantizedMatrix(2, 32, free, codes, scales, zeros, gIdx, "t", [0.1f, 0f]),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("minimum 0.1").And.Message.Contains("fp16"));
        Assert.That(() => new QuantizedMatrix(2, 32, free, codes, scales, [3, 0], gIdx, "t", [0f, 0f]),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("zero 3"));
        Assert.That(() => new QuantizerConfig(4, 32, symmetric: true, freeMinimum: true),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("--sym and --free-min"));
    }
}
