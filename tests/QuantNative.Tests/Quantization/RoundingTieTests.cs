using NUnit.Framework;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;

namespace QuantNative.Tests.Quantization;

/// <summary>
/// Weights built so that w/s and −xmin/s land exactly on .5: s is a power of two (exact in fp16 and float), the
/// range is exactly qmax·s wide, and every weight is a multiple of s/2. Half-to-even and half-away-from-zero give
/// different codes on half of these, so the tests fail if the rounding mode is wrong.
/// </summary>
public class RoundingTieTests
{
    private const float S = 1f / 64;

    private static int HalfToEven(double x)
    {
        double f = Math.Floor(x);
        if (x - f != 0.5) throw new InvalidOperationException($"{x} is not a tie");
        return (long)f % 2 == 0 ? (int)f : (int)f + 1;
    }

    [Test]
    public void CodesRoundHalfToEvenAsymmetric([Values(2, 3, 4, 8)] int bits)
    {
        var config = new QuantizerConfig(bits);
        int qmax = config.MaxCode, m = qmax / 2;
        // Row: the range ends, then every tie inside [xmin, xmax].
        var row = new List<float> { -m * S, (qmax - m) * S };
        for (int k = -m; k < qmax - m; k++) row.Add((k + 0.5f) * S);
        var q = Rtn.Quantize(row.ToArray(), 1, row.Count, config);
        Assert.That(q.Scales[0], Is.EqualTo(S));
        Assert.That(q.Zeros[0], Is.EqualTo(m));
        int awayDiffers = 0;
        for (int i = 2; i < row.Count; i++)
        {
            double ratio = row[i] / S;
            int expected = HalfToEven(ratio) + m;
            Assert.That(q.Codes[i], Is.EqualTo(expected), $"w/s = {ratio}");
            if ((int)Math.Round(ratio, MidpointRounding.AwayFromZero) + m != expected) awayDiffers++;
        }
        Assert.That(awayDiffers, Is.GreaterThan(0), "the ties must discriminate between rounding modes");
    }

    [Test]
    public void CodesRoundHalfToEvenSymmetric([Values(2, 3, 4, 8)] int bits)
    {
        var config = new QuantizerConfig(bits, symmetric: true);
        int qmax = config.MaxCode, z = (qmax + 1) / 2;
        // amax = qmax·s/2 makes s = 2·amax/qmax exactly S.
        var row = new List<float> { -qmax * S / 2 };
        for (int k = -z; k < z - 1; k++) row.Add((k + 0.5f) * S);
        var q = Rtn.Quantize(row.ToArray(), 1, row.Count, config);
        Assert.That((q.Scales[0], q.Zeros[0]), Is.EqualTo((S, z)));
        for (int i = 0; i < row.Count; i++)
        {
            double ratio = row[i] / S;
            int expected = Math.Clamp(HalfToEven(ratio) + z, 0, qmax);
            Assert.That(q.Codes[i], Is.EqualTo(expected), $"w/s = {ratio}");
        }
    }

    [Test]
    public void ZeroPointRoundsHalfToEven([Values(2, 3, 4, 8)] int bits)
    {
        var config = new QuantizerConfig(bits);
        int qmax = config.MaxCode;
        // −xmin/s = m + ½ for every m that keeps xmax ≥ 0; the range stays exactly qmax·s wide.
        for (int m = 0; m + 1 <= qmax; m++)
        {
            float xmin = -(m + 0.5f) * S, xmax = (qmax - m - 0.5f) * S;
            var (s, z) = UniformQuantizer.Params(xmin, xmax, config);
            Assert.That(s, Is.EqualTo(S), $"m = {m}");
            Assert.That(z, Is.EqualTo(HalfToEven(m + 0.5)), $"zero for −xmin/s = {m + 0.5}");
            var q = Rtn.Quantize([xmin, xmax, 0f], 1, 3, config);
            Assert.That(q.Zeros[0], Is.EqualTo(z));
            Assert.That(q.Dequantize()[2], Is.EqualTo(0f), "zero stays exact whatever the zero point's rounding");
        }
    }
}
