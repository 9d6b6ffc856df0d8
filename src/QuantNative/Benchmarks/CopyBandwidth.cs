using System.Diagnostics;

namespace QuantNative.Benchmarks;

/// <summary>
/// The memory bandwidth a decode step is held against: a plain copy of a buffer far larger than the caches, split over
/// the cores as a decode step is, in GB/s of bytes copied (each read once and written once). Median of several.
/// </summary>
public static unsafe class CopyBandwidth
{
    public static double MeasureGbps(int runs = 5, long bytes = 512L << 20)
    {
        var source = GC.AllocateUninitializedArray<byte>((int)bytes, pinned: true);
        var target = GC.AllocateUninitializedArray<byte>((int)bytes, pinned: true);
        Array.Fill(source, (byte)1);
        Array.Fill(target, (byte)0);
        int threads = Environment.ProcessorCount;
        long share = bytes / threads;
        var times = new double[runs + 1];
        fixed (byte* ps = source) fixed (byte* pt = target)
        {
            byte* s = ps, t = pt;
            for (int run = 0; run <= runs; run++) // run 0 warms up (page faults)
            {
                long start = Stopwatch.GetTimestamp();
                Parallel.For(0, threads, i => Buffer.MemoryCopy(s + i * share, t + i * share, share, share));
                times[run] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
        }
        var timed = times[1..];
        Array.Sort(timed);
        return share * threads / timed[runs / 2] / 1e9;
    }
}
