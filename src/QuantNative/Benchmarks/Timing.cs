using System.Diagnostics;

namespace QuantNative.Benchmarks;

/// <summary>One measured operation: the median of several timed runs after a warm-up, and its work in FLOPs.</summary>
public sealed record Measurement(string Name, double MedianSeconds, double MinSeconds, double MaxSeconds, int Runs, double Flops)
{
    public double GFlops => Flops / MedianSeconds / 1e9;

    /// <summary>Runs <paramref name="action"/> once to warm up, then <paramref name="runs"/> times, timing each.</summary>
    public static Measurement Of(string name, double flops, int runs, Action action)
    {
        if (runs < 1) throw new QuantNativeException($"--runs must be at least 1 (got {runs})");
        action();
        BenchmarkProgress.Report(name, 1, runs + 1);
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            BenchmarkProgress.Report(name, i + 2, runs + 1);
        }
        Array.Sort(times);
        double median = runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
        return new Measurement(name, median, times[0], times[^1], runs, flops);
    }
}
