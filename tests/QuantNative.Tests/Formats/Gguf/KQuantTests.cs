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

    /// <summary>keepRange (a learned free-minimum grid): each sub-block's grid is its given range, not the search's. With
    /// a range twice the data's, the decoded levels are that range's — the lowest code sits at its minimum and the step is
    /// its width over qmax, within the rounding of the sub-block scale and min to the type's bits — while the search
    /// (without keepRange) moves toward the data.</summary>
    [TestCase(GgmlType.Q2_K, 16, 3, 15)]
    [TestCase(GgmlType.Q4_K, 32, 15, 63)]
    [TestCase(GgmlType.Q5_K, 32, 31, 63)]
    public void KeepRangeUsesTheGivenRangeAsTheSubBlockGrid(GgmlType type, int sub, int qmax, int scaleMax)
    {
        var x = Normal(256, 11);
        KQuants.RangeOf wide = column =>
        {
            var xs = x.Skip(column).Take(sub).ToArray();
            float lo = xs.Min(), hi = xs.Max(), mid = (lo + hi) / 2;
            return (mid - (hi - lo), mid + (hi - lo)); // twice the data's width, around its centre
        };
        float[] Decode(bool keep)
        {
            var block = new byte[type.Traits().BlockBytes];
            KQuants.Quantize(type, x, block, 0, wide, default, keep);
            var y = new float[256];
            KQuants.Dequantize(type, block, y);
            return y;
        }
        var kept = Decode(keep: true);
        var searched = Decode(keep: false);
        // The largest scale and min are rounded to about 1/scaleMax of themselves; smaller ones relative to the largest.
        float maxWidth = Enumerable.Range(0, 256 / sub).Max(j => wide(j * sub)!.Value.Max - wide(j * sub)!.Value.Min);
        float maxMin = Enumerable.Range(0, 256 / sub).Max(j => -Math.Min(0, wide(j * sub)!.Value.Min));
        for (int j = 0; j < 256 / sub; j++)
        {
            var (lo, hi) = wide(j * sub)!.Value;
            float step = (hi - lo) / qmax, tol = (maxWidth / qmax + maxMin) / scaleMax;
            var levels = kept.Skip(j * sub).Take(sub).ToArray();
            // Every decoded value is lo + k·step for an integer k (up to the rounding of step and lo).
            foreach (float v in levels)
            {
                float k = MathF.Round((v - lo) / step);
                Assert.That(v, Is.EqualTo(lo + k * step).Within(tol * (1 + k)), $"sub-block {j}: {v} on the kept grid");
            }
        }
        double keptErr = x.Zip(kept).Sum(p => (p.First - p.Second) * (double)(p.First - p.Second));
        double searchErr = x.Zip(searched).Sum(p => (p.First - p.Second) * (double)(p.First - p.Second));
        TestContext.Out.WriteLine($"{type}: squared error kept {keptErr:G4}, searched {searchErr:G4}");
        Assert.That(keptErr, Is.GreaterThan(searchErr), "the double-width grid is coarser than the search's (which moves from it)");
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
