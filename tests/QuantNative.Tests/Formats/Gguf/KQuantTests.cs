using NUnit.Framework;
using QuantNative.Formats.Gguf;

namespace QuantNative.Tests.Formats.Gguf;

/// <summary>The K-quant encoders and decoders of qn (llama.cpp itself checks the layouts in GgufLlamaCppTests): each
/// type's round-trip error is within what its bits allow, and a starting range equal to the sub-block's own min/max
/// changes nothing (the search is ggml's reference search unless a learned range moves its start).</summary>
public class KQuantTests
{
    private static float[] Normal(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()))).ToArray();
    }

    // Relative RMS error of a Gaussian row: roughly the step over √12 relative to σ; the bounds are 1.5× what these
    // searches reach (measured: Q2_K 0.33, Q3_K 0.17, Q4_K 0.087, Q5_K 0.043, Q6_K 0.021).
    [TestCase(GgmlType.Q2_K, 0.5)]
    [TestCase(GgmlType.Q3_K, 0.26)]
    [TestCase(GgmlType.Q4_K, 0.13)]
    [TestCase(GgmlType.Q5_K, 0.065)]
    [TestCase(GgmlType.Q6_K, 0.032)]
    public void RoundTripErrorIsWhatTheBitsAllow(GgmlType type, double maxRelRms)
    {
        var x = Normal(256 * 8, (int)type);
        var (bs, bb) = type.Traits();
        var y = new float[x.Length];
        var block = new byte[bb];
        for (int b = 0; b < x.Length / bs; b++)
        {
            KQuants.Quantize(type, x.AsSpan(b * bs, bs), block);
            KQuants.Dequantize(type, block, y.AsSpan(b * bs, bs));
        }
        double rel = Math.Sqrt(x.Zip(y).Sum(p => (p.First - p.Second) * (double)(p.First - p.Second)) / x.Sum(v => (double)v * v));
        TestContext.Out.WriteLine($"{type}: relative RMS error {rel:F4}");
        Assert.That(rel, Is.LessThan(maxRelRms));
    }

    [TestCase(GgmlType.Q2_K, 16)]
    [TestCase(GgmlType.Q4_K, 32)]
    [TestCase(GgmlType.Q5_K, 32)]
    public void TheDataOwnRangeAsStartChangesNothing(GgmlType type, int sub)
    {
        var x = Normal(256, 7);
        var plain = new byte[type.Traits().BlockBytes];
        var ranged = new byte[plain.Length];
        KQuants.Quantize(type, x, plain);
        KQuants.Quantize(type, x, ranged, 0, column => (x.Skip(column).Take(sub).Min(), x.Skip(column).Take(sub).Max()));
        Assert.That(ranged, Is.EqualTo(plain));
    }

    [Test]
    public void AllZeroBlocksDecodeToZero()
    {
        foreach (var type in new[] { GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
        {
            var block = new byte[type.Traits().BlockBytes];
            var y = new float[256];
            KQuants.Quantize(type, new float[256], block);
            KQuants.Dequantize(type, block, y);
            Assert.That(y, Is.All.EqualTo(0f), type.ToString());
        }
    }
}
