using NUnit.Framework;

namespace QuantNative.Tests;

/// <summary>Element-wise comparison that reports the worst element (index, values) and dumps both on failure.</summary>
public static class TensorAssert
{
    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double absTolerance, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        double worst = -1; int at = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(actual[i]) || double.IsNaN(diff)) diff = double.PositiveInfinity;
            if (diff > worst) { worst = diff; at = i; }
        }
        if (worst > absTolerance)
        {
            string dump = Path.Combine(Path.GetTempPath(), $"qn-fail-{what}-{Guid.NewGuid():N}.txt");
            using (var w = new StreamWriter(dump))
                for (int i = 0; i < actual.Length; i++) w.WriteLine($"{i}\t{actual[i]:R}\t{expected[i]:R}");
            Assert.Fail($"{what}: max |actual − expected| = {worst:G4} at [{at}] (actual {actual[at]:R}, expected " +
                        $"{expected[at]:R}) exceeds {absTolerance:G3}; both dumped to {dump}");
        }
    }

    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double absTolerance, string what)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        Close(actual, e, absTolerance, what);
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - (double)b[i]));
        return worst;
    }
}
