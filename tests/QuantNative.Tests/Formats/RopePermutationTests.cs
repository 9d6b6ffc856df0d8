using NUnit.Framework;
using QuantNative.Formats;

namespace QuantNative.Tests.Formats;

public class RopePermutationTests
{
    [TestCase(1, 2, 1)]
    [TestCase(3, 4, 5)]
    [TestCase(8, 8, 64)]
    [TestCase(2, 14, 3)]
    public void ForwardAndInverseAreInverses(int heads, int headDim, int columns)
    {
        var w = RandomModels.Floats(new Random(heads * 100 + headDim), (long)heads * headDim * columns);
        var there = RopeLayout.AdjacentPairsToRotateHalf(w, heads, headDim, columns);
        RandomModels.AssertBits(w, RopeLayout.RotateHalfToAdjacentPairs(there, heads, headDim, columns), "inverse after forward");
        var back = RopeLayout.RotateHalfToAdjacentPairs(w, heads, headDim, columns);
        RandomModels.AssertBits(w, RopeLayout.AdjacentPairsToRotateHalf(back, heads, headDim, columns), "forward after inverse");
        // Guard against both being the identity, which would pass the checks above.
        if (headDim > 2) Assert.That(there, Is.Not.EqualTo(w));
    }

    [TestCase(3, 8, 2)]
    [TestCase(2, 6, 3)]
    public void RowsMoveAsSpecified(int heads, int headDim, int columns)
    {
        // Each element encodes (row, column), so the output tells where every row came from.
        int rows = heads * headDim;
        var w = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++)
            w[r * columns + c] = r * 1000 + c;

        var half = RopeLayout.AdjacentPairsToRotateHalf(w, heads, headDim, columns);
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < headDim / 2; i++)
        for (int c = 0; c < columns; c++)
        {
            int head = h * headDim;
            Assert.That(half[(head + i) * columns + c], Is.EqualTo(w[(head + 2 * i) * columns + c]),
                $"head {h}: new row {i} = old row {2 * i}");
            Assert.That(half[(head + headDim / 2 + i) * columns + c], Is.EqualTo(w[(head + 2 * i + 1) * columns + c]),
                $"head {h}: new row {headDim / 2 + i} = old row {2 * i + 1}");
        }
    }

    /// <summary>
    /// The reason for the permutation: llama2.c's RoPE on adjacent pairs with the original wq/wk must give the same
    /// attention scores as Transformers' rotate_half RoPE with the permuted ones, at any pair of positions.
    /// </summary>
    [Test]
    public void RotateHalfWithPermutedWeightsGivesTheSameScoresAsAdjacentPairs()
    {
        const int heads = 2, headDim = 8, columns = 5;
        var random = new Random(7);
        var wq = RandomModels.Floats(random, heads * headDim * columns);
        var wk = RandomModels.Floats(random, heads * headDim * columns);
        var x1 = RandomModels.Floats(random, columns);
        var x2 = RandomModels.Floats(random, columns);
        var wqHalf = RopeLayout.AdjacentPairsToRotateHalf(wq, heads, headDim, columns);
        var wkHalf = RopeLayout.AdjacentPairsToRotateHalf(wk, heads, headDim, columns);

        foreach (var (p1, p2) in new[] { (0, 0), (3, 1), (17, 5), (100, 42) })
        {
            var qPairs = AdjacentPairRope(MatVec(wq, x1, columns), headDim, p1);
            var kPairs = AdjacentPairRope(MatVec(wk, x2, columns), headDim, p2);
            var qHalf = RotateHalfRope(MatVec(wqHalf, x1, columns), headDim, p1);
            var kHalf = RotateHalfRope(MatVec(wkHalf, x2, columns), headDim, p2);
            for (int h = 0; h < heads; h++)
            {
                double pairs = Dot(qPairs, kPairs, h * headDim, headDim);
                double halves = Dot(qHalf, kHalf, h * headDim, headDim);
                Assert.That(halves, Is.EqualTo(pairs).Within(1e-9 * (1 + Math.Abs(pairs))), $"positions {p1},{p2} head {h}");
            }
        }
    }

    private static double[] MatVec(float[] w, float[] x, int columns)
    {
        var y = new double[w.Length / columns];
        for (int r = 0; r < y.Length; r++)
        for (int c = 0; c < columns; c++)
            y[r] += (double)w[r * columns + c] * x[c];
        return y;
    }

    private static double Frequency(int pairIndex, int headDim) => Math.Pow(10000.0, -2.0 * pairIndex / headDim);

    // llama2.c run.c: within each head, (v[2i], v[2i+1]) rotate by pos·θ^(-2i/headDim).
    private static double[] AdjacentPairRope(double[] v, int headDim, int pos)
    {
        var r = (double[])v.Clone();
        for (int start = 0; start < v.Length; start += headDim)
        for (int i = 0; i < headDim / 2; i++)
        {
            double a = pos * Frequency(i, headDim), v0 = v[start + 2 * i], v1 = v[start + 2 * i + 1];
            r[start + 2 * i] = v0 * Math.Cos(a) - v1 * Math.Sin(a);
            r[start + 2 * i + 1] = v0 * Math.Sin(a) + v1 * Math.Cos(a);
        }
        return r;
    }

    // Transformers: q·cos + rotate_half(q)·sin, rotate_half(x) = cat(-x[half:], x[:half]), frequencies repeated twice.
    private static double[] RotateHalfRope(double[] v, int headDim, int pos)
    {
        var r = new double[v.Length];
        int half = headDim / 2;
        for (int start = 0; start < v.Length; start += headDim)
        for (int j = 0; j < headDim; j++)
        {
            double a = pos * Frequency(j % half, headDim);
            double rotated = j < half ? -v[start + j + half] : v[start + j - half];
            r[start + j] = v[start + j] * Math.Cos(a) + rotated * Math.Sin(a);
        }
        return r;
    }

    private static double Dot(double[] a, double[] b, int start, int n)
    {
        double s = 0;
        for (int i = start; i < start + n; i++) s += a[i] * b[i];
        return s;
    }
}
