using System.Diagnostics;
using QuantNative.Backends;
using QuantNative.Cpu;

namespace QuantNative.Benchmarks;

/// <summary>
/// `qn bench fakequant`: the fused LWC fake quantization forward and backward on a backend. On a GPU: device times
/// (CUDA events; one warm-up, then the median of several runs) and GB/s of the minimum traffic, against the device's
/// copy bandwidth measured by a device-to-device copy in the same run. On the emulator: one run checked against the CPU
/// backend, no timings. On the CPU backend: wall-clock medians.
/// </summary>
public static class FakeQuantBenchmark
{
    public sealed record Timed(string Name, double MedianMs, double Bytes)
    {
        public double GBps => Bytes / (MedianMs * 1e-3) / 1e9;
    }

    public sealed record Check(long Elements, long CodesDiffer, long WqDiffer, long SavedDiffer, double DuMaxErr,
        double DlMaxErr, double DwMaxErr)
    {
        /// <summary>Bit-exact forward and gradients within the kernel tolerance (relative to |expected| + rms).</summary>
        public bool Passed(double gradientTolerance) => CodesDiffer == 0 && WqDiffer == 0 && SavedDiffer == 0 &&
                                                         DuMaxErr <= gradientTolerance && DlMaxErr <= gradientTolerance &&
                                                         DwMaxErr <= gradientTolerance;
    }

    public sealed record Result(LwcShape Shape, string Device, Timed? Forward, Timed? Backward, Timed? Copy, Check Check);

    /// <summary>The relative tolerance of the gradients against the CPU backend (the tests' LwcGradientRel).</summary>
    public const double GradientTolerance = 1e-5;

    /// <summary>Bytes a forward must move at least: w read, ŵ and codes written, u, l read, 4 saved values written.</summary>
    public static double ForwardBytes(LwcShape s) => 9.0 * s.Elements + 24.0 * s.GroupCount;

    /// <summary>Bytes a backward must move at least: dŴ and w read, dW written; u, l, 4 saved read; du, dl written.</summary>
    public static double BackwardBytes(LwcShape s) => 12.0 * s.Elements + 32.0 * s.GroupCount;

    public static Result Run(IBackend backend, LwcShape shape, int runs, int seed)
    {
        if (runs < 1) throw new QuantNativeException($"--runs must be at least 1 (got {runs})");
        var rng = new Random(seed);
        var w = new float[shape.Elements];
        for (int i = 0; i < w.Length; i++) w[i] = (float)((rng.NextDouble() * 2 - 1) * 0.05);
        var u = Enumerable.Range(0, (int)shape.GroupCount).Select(_ => (float)(2 + rng.NextDouble() * 3)).ToArray();
        var l = Enumerable.Range(0, (int)shape.GroupCount).Select(_ => (float)(2 + rng.NextDouble() * 3)).ToArray();
        var dwq = Enumerable.Range(0, (int)shape.Elements).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var clamp = ScaleClamp.Default;

        using var b = new LwcBuffers(backend, shape);
        b.W.Upload(w);
        b.U.Upload(u);
        b.L.Upload(l);
        b.DWq.Upload(dwq);

        void Forward() => b.Forward(clamp);
        void Backward() => b.Backward(clamp);

        Timed? fwd = null, bwd = null, copy = null;
        if (backend is Cuda.CudaBackend { Runtime.IsEmulated: false } gpu)
        {
            fwd = new Timed("forward", MedianDevice(gpu, runs, Forward), ForwardBytes(shape));
            bwd = new Timed("backward", MedianDevice(gpu, runs, Backward), BackwardBytes(shape));
            var src = Cuda.CudaBackend.P(b.W);
            var dst = Cuda.CudaBackend.P(b.DW);
            long bytes = shape.Elements * sizeof(float);
            copy = new Timed("device-to-device copy", MedianDevice(gpu, runs, () => gpu.Runtime.CopyDeviceToDevice(dst, src, bytes)),
                2.0 * bytes);
            // The backward's outputs were overwritten by the copy: run both once more for the check.
            Forward();
            Backward();
        }
        else if (backend.Kind == DeviceKind.Cpu)
        {
            fwd = new Timed("forward", MedianWall(runs, Forward), ForwardBytes(shape));
            bwd = new Timed("backward", MedianWall(runs, Backward), BackwardBytes(shape));
        }
        else
        {
            Forward();
            Backward();
        }
        backend.Synchronize();

        // The check: the same inputs through the C# reference.
        var codes = new byte[shape.Elements];
        float[] wq = new float[shape.Elements], s = new float[shape.GroupCount], z = new float[shape.GroupCount],
            mx = new float[shape.GroupCount], mn = new float[shape.GroupCount], dW = new float[shape.Elements],
            du = new float[shape.GroupCount], dl = new float[shape.GroupCount];
        LwcFakeQuant.Forward(wq, codes, s, z, mx, mn, w, u, l, shape, clamp);
        LwcFakeQuant.Backward(dW, du, dl, dwq, w, u, l, s, z, mx, mn, shape, clamp);
        long codesDiffer = Differ(codes, b.Codes.ToArray());
        long wqDiffer = Differ(wq, b.Wq.ToArray());
        long savedDiffer = Differ(s, b.Saved.Scale.ToArray()) + Differ(z, b.Saved.Zero.ToArray()) +
                           Differ(mx, b.Saved.Max.ToArray()) + Differ(mn, b.Saved.Min.ToArray());
        var check = new Check(shape.Elements, codesDiffer, wqDiffer, savedDiffer, MaxErr(du, b.Du.ToArray()),
            MaxErr(dl, b.Dl.ToArray()), MaxErr(dW, b.DW.ToArray()));
        return new Result(shape, backend.Description, fwd, bwd, copy, check);
    }

    private static long Differ<T>(T[] a, T[] b) where T : IEquatable<T>
    {
        long n = 0;
        for (int i = 0; i < a.Length; i++)
            if (!a[i].Equals(b[i]))
                n++;
        return n;
    }

    /// <summary>max |a − b| / (|a| + rms(a)).</summary>
    private static double MaxErr(float[] expected, float[] actual)
    {
        double rms = Math.Sqrt(expected.Sum(v => (double)v * v) / Math.Max(1, expected.Length));
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)expected[i] - actual[i]);
            double scale = Math.Abs(expected[i]) + rms;
            double err = double.IsNaN(d) ? double.PositiveInfinity : scale == 0 ? (d == 0 ? 0 : double.PositiveInfinity) : d / scale;
            worst = Math.Max(worst, err);
        }
        return worst;
    }

    private static double MedianDevice(Cuda.CudaBackend gpu, int runs, Action work)
    {
        work();
        gpu.Synchronize();
        var times = new double[runs];
        for (int i = 0; i < runs; i++) times[i] = gpu.Runtime.TimeMilliseconds(work) ?? double.NaN;
        return Median(times);
    }

    private static double MedianWall(int runs, Action work)
    {
        work();
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            work();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return Median(times);
    }

    private static double Median(double[] t)
    {
        Array.Sort(t);
        return t.Length % 2 == 1 ? t[t.Length / 2] : (t[t.Length / 2 - 1] + t[t.Length / 2]) / 2;
    }
}
