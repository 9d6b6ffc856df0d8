using NUnit.Framework;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;

namespace QuantNative.Tests.Quantization;

public class RtnTests
{
    [Test]
    public void MatchesTheScalarReferenceBitForBit([ValueSource(typeof(QuantTestData), nameof(QuantTestData.Bits))] int bits,
        [Values(false, true)] bool symmetric)
    {
        var random = new Random(1000 * bits + (symmetric ? 1 : 0));
        int cases = 0;
        foreach (int rows in QuantTestData.RowCounts)
        foreach (int columns in QuantTestData.ColumnCounts)
        foreach (int group in QuantTestData.GroupSizes)
        {
            string what = $"W{bits} {(symmetric ? "sym" : "asym")} [{rows}, {columns}] g{group}";
            var w = QuantTestData.Weights(random, rows, columns);
            var config = new QuantizerConfig(bits, group, symmetric);
            var q = Rtn.Quantize(w, rows, columns, config);
            var expected = ScalarRtnReference.Quantize(w, rows, columns, bits, group, symmetric);
            Assert.That(q.Codes, Is.EqualTo(expected.Codes), $"{what}: codes");
            Assert.That(q.Scales, Is.EqualTo(expected.Scales), $"{what}: scales");
            Assert.That(q.Zeros, Is.EqualTo(expected.Zeros), $"{what}: zeros");
            AssertBitwiseEqual(q.Dequantize(), expected.Dequantized, $"{what}: dequantized");
            Assert.That(q.GroupIndex, Is.EqualTo(Enumerable.Range(0, columns).Select(c => c / config.Layout(columns).Length)),
                $"{what}: g_idx");
            cases++;
        }
        Assert.That(cases, Is.EqualTo(60));
    }

    [Test]
    public void ZeroIsAlwaysRepresentableAndErrorIsAtMostHalfAStep([Values(2, 3, 4, 8)] int bits)
    {
        // Independent of the reference: the range holds zero, so w = 0 dequantizes to exactly 0, and no weight moves by
        // more than s/2 plus what the fp16 rounding of s costs at the far end of the grid (qmax·|s − s_exact|), plus
        // float rounding of w/s.
        var random = new Random(bits);
        var w = QuantTestData.Weights(random, 17, 172);
        for (int i = 0; i < w.Length; i += 7) w[i] = 0f;
        var config = new QuantizerConfig(bits, 32);
        var layout = config.Layout(172);
        var q = Rtn.Quantize(w, 17, 172, config);
        var deq = q.Dequantize();
        for (int i = 0; i < w.Length; i++)
        {
            int r = i / 172, g = q.GroupIndex[i % 172];
            var group = w.AsSpan(r * 172 + layout.StartOf(g), layout.LengthOf(g)).ToArray();
            double exact = Math.Clamp((Math.Max(group.Max(), 0.0) - Math.Min(group.Min(), 0.0)) / config.MaxCode, 1e-5, 1e4);
            double s = q.Scales[r * q.Groups + g];
            if (w[i] == 0f) Assert.That(deq[i], Is.EqualTo(0f), $"zero weight at {i}");
            Assert.That(Math.Abs(deq[i] - w[i]),
                Is.LessThanOrEqualTo(s / 2 + config.MaxCode * Math.Abs(s - exact) + 1e-6 * Math.Abs(w[i]) + 1e-12),
                $"weight {i}");
        }
    }

    [Test]
    public void RejectsBadInput()
    {
        var config = new QuantizerConfig(4, 32);
        Assert.That(() => Rtn.Quantize(new float[10], 3, 4, config, "blk.0.wq"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("blk.0.wq").And.Message.Contains("12"));
        var nan = new float[12];
        nan[5] = float.NaN;
        Assert.That(() => Rtn.Quantize(nan, 3, 4, config, "blk.0.wk"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("blk.0.wk").And.Message.Contains("[1, 1]"));
        Assert.That(() => Rtn.Quantize([], 0, 4, config),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("[0, 4]"));
    }

    internal static void AssertBitwiseEqual(float[] actual, float[] expected, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        for (int i = 0; i < actual.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
    }
}
