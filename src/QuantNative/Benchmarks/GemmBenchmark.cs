using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Interop;
using QuantNative.Model.Quantized;

namespace QuantNative.Benchmarks;

/// <summary>
/// `qn bench gemm`: the low-bit linear y [M, N] = x [M, K] · Ŵᵀ (fp16 x, float32 y) through
/// <see cref="LowBitDeviceLinear.Forward"/>, against cuBLAS fp16 (cublasGemmEx: fp16 A and B, float32 accumulation and
/// output) on the same shape, for random W2/W3/W4 weights (random codes, scales and zeros, packed the GPTQ way and
/// repacked).
/// <list type="bullet">
/// <item>On a GPU: the weights are uploaded as many times as it takes for the copies to exceed twice the L2 cache
/// (queried from the device), and each timed run (CUDA events) launches once per copy, so every launch reads its
/// weights from DRAM; one warm-up rotation, then the median of the runs. A device-to-device copy of a buffer of twice
/// L2 gives the bandwidth bound: the time the kernel's minimum traffic (packed weights, scales/zeros, x, y) would
/// take at that bandwidth, divided by the measured time.</item>
/// <item>On the emulator: each case runs once, without timings, and is compared with <see cref="LowBitLinear.ForwardCpu"/>
/// and with the emulated GemmEx (on Ŵ rounded to fp16), error per output relative to Σ_k |x_k·ŵ_k|.</item>
/// </list>
/// Every M runs: the GEMV for M ≤ 8, the tensor-core kernel above (<see cref="LowBitDeviceLinear.Forward"/>).
/// </summary>
public static class GemmBenchmark
{
    public sealed record Row(WeightShape Shape, int Bits, int M, Timing? Time, Check? Check);

    /// <summary>Device times in µs and the derived rates; Copies is the number of weight copies rotated through.</summary>
    public sealed record Timing(double? LowBitUs, double CublasUs, double Flops, double LowBitBytes, int Copies,
        double CopyGBps)
    {
        public double? Tflops => LowBitUs is double t ? Flops / (t * 1e-6) / 1e12 : null;
        public double? GBps => LowBitUs is double t ? LowBitBytes / (t * 1e-6) / 1e9 : null;

        /// <summary>cuBLAS fp16 time / low-bit time (above 1: the low-bit kernel is faster).</summary>
        public double? SpeedupOverCublas => LowBitUs is double t ? CublasUs / t : null;

        /// <summary>The time the minimum traffic takes at copy bandwidth / the measured time (1 = at the bound).</summary>
        public double? OfBandwidthBound => LowBitUs is double t ? LowBitBytes / (CopyGBps * 1e9) / (t * 1e-6) : null;
    }

    /// <summary>
    /// Max error per output relative to Σ_k |x_k·ŵ_k|: the low-bit kernel against the CPU reference and against the
    /// emulated cuBLAS GemmEx, and GemmEx against the CPU reference.
    /// </summary>
    public sealed record Check(double? LowBitVsCpu, double? LowBitVsCublas, double CublasVsCpu, double CpuTolerance,
        double CublasTolerance)
    {
        public bool Passed => !(LowBitVsCpu > CpuTolerance) && !(LowBitVsCublas > LowBitVsCublasTolerance) &&
                              CublasVsCpu <= CublasTolerance;

        // cuBLAS's bound covers the float32 GEMV's and the tensor-core kernel's; where the low-bit kernel's own bound
        // is the wider one (the GEMV's fp16-pair body) the two differ by at most that plus cuBLAS's fp16 weights (2⁻¹¹).
        public double LowBitVsCublasTolerance => CpuTolerance > CublasTolerance ? CpuTolerance + 1.0 / 2048 : CublasTolerance;
    }

    public sealed record Report(string Device, bool Timed, long L2Bytes, string L2Source, double? CopyGBps, List<Row> Rows);

    /// <summary>The bound the tests use for the GEMV against the CPU (Tolerances.LowBitGemvSumRel: two float32 sums of
    /// K rounded products, each within K·2⁻²⁴ of Σ|x·ŵ|), widened with K beyond the tests' K ≤ 512.</summary>
    public static double CpuTolerance(int k) => Math.Max(1e-4, 2.0 * k / (1 << 24));

    /// <summary>The cuBLAS peer multiplies Ŵ rounded to fp16 (each weight within 2⁻¹¹ of itself) on top of that.</summary>
    public static double CublasTolerance(int k) => CpuTolerance(k) + 1.0 / 2048;

    /// <summary>The GEMV's fp16-pair body (M = 1 at W4): the kernel's 11·2⁻¹¹ of Σ|x·ŵ| (Tolerances.LowBitGemvHalf2SumRel,
    /// derived there) plus the float32 reference's K·2⁻²⁴.</summary>
    public static double Half2Tolerance(int k) => 5.4e-3 + (double)k / (1 << 24);

    /// <summary>The GEMV's tensor-core body (M = 1 at W2/W3): Tolerances.LowBitGemvMmaSumRel (derived there) plus the
    /// float32 reference's K·2⁻²⁴.</summary>
    public static double MmaGemvTolerance(int k) => Tolerances.LowBitGemvMmaSumRel + (double)k / (1 << 24);

    /// <summary>The low-bit kernel against the CPU: the GEMV (M ≤ 8) dequantizes in float32 (<see cref="CpuTolerance"/>),
    /// except its fp16-pair body (<see cref="Half2Tolerance"/>) and its tensor-core body (<see cref="MmaGemvTolerance"/>);
    /// the tensor-core kernel feeds the tensor cores fp16 weights, as the cuBLAS peer does (<see cref="CublasTolerance"/>).</summary>
    public static double LowBitTolerance(int k, int m, int bits, int groupLength) =>
        m > LowBitGemvLaunch.MaxM ? CublasTolerance(k)
        : LowBitGemvLaunch.SumsInHalf2(m, bits, k) ? Half2Tolerance(k)
        : LowBitGemvLaunch.DotsOnTensorCores(m, bits, k, groupLength) ? MmaGemvTolerance(k) : CpuTolerance(k);

    /// <summary>The L2 size assumed where the device cannot be asked (the emulator): 50 MB, an H100's.</summary>
    public const long AssumedL2Bytes = 50L << 20;

    public static Report Run(ICudaRuntime runtime, IReadOnlyList<WeightShape> shapes, int[] bits, int group,
        int[] batches, int runs, int seed, Action<string>? progress = null)
    {
        if (runs < 1) throw new QuantNativeException($"--runs must be at least 1 (got {runs})");
        bool timed = !runtime.IsEmulated;
        var (l2, l2Source) = L2(runtime);
        double? copyGBps = timed ? CopyBandwidth(runtime, 2 * l2, runs) : null;
        var rng = new Random(seed);
        var rows = new List<Row>();
        foreach (var shape in shapes)
        foreach (int b in bits)
        {
            progress?.Invoke($"{shape} W{b}");
            var linear = new LowBitLinear(RandomWeights(rng, shape.N, shape.K, b, group));
            foreach (int m in shape.M is int fixedM ? [fixedM] : batches)
                rows.Add(RunCase(runtime, linear, shape, m, timed, l2, copyGBps ?? 0, runs, rng));
        }
        return new Report(runtime.DeviceName, timed, l2, l2Source, copyGBps, rows);
    }

    private static (long Bytes, string Source) L2(ICudaRuntime runtime) =>
        runtime is DriverCudaRuntime d
            ? (d.Attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE), "queried from the device")
            : (AssumedL2Bytes, "assumed (the emulator has none)");

    private static unsafe Row RunCase(ICudaRuntime runtime, LowBitLinear linear, WeightShape shape, int m, bool timed,
        long l2, double copyGBps, int runs, Random rng)
    {
        var w = linear.Weights;
        int n = w.N, k = w.K;
        using var arena = new DeviceArena(runtime);
        var x = Activations(rng, m, k);
        var dx = arena.Upload(x);
        var dy = arena.Allocate((long)m * n * sizeof(float));
        var dyc = arena.Allocate((long)m * n * sizeof(float));
        long packedBytes = (w.QWeight.LongLength + w.ScaleZero.LongLength) * sizeof(uint);
        long halfBytes = (long)n * k * sizeof(ushort);
        int lowBitCopies = timed ? Copies(packedBytes, l2) : 1;
        int halfCopies = timed ? Copies(halfBytes, l2) : 1;
        var devices = Enumerable.Range(0, lowBitCopies).Select(_ => arena.Own(linear.Upload(runtime))).ToList();
        var w16 = linear.Weights.Dequantize().Select(v => (Half)v).ToArray();
        var dw16 = arena.Upload(w16);
        var halves = new List<DevicePtr> { dw16 };
        for (int i = 1; i < halfCopies; i++)
        {
            var copy = arena.Allocate(halfBytes);
            runtime.CopyDeviceToDevice(copy, dw16, halfBytes);
            halves.Add(copy);
        }

        devices[0].Forward(dy, dx, m, LowBitOutput.Float32);
        // y (column-major N×M, ld N) = Ŵ (stored row-major [N, K]: column-major K×N, transposed) · xᵀ (K×M, ld K).
        void Cublas(DevicePtr wh) => runtime.GemmF16(true, false, n, m, k, 1f, wh, k, dx, k, 0f, dyc, n, halfOutput: false);
        Cublas(dw16);

        if (!timed)
        {
            runtime.Synchronize();
            var yc = arena.Download<float>(dyc, (long)m * n);
            var reference = new float[(long)m * n];
            linear.ForwardCpu(x, m, reference);
            var scale = AbsSums(linear.Weights.Dequantize(), x, m, n, k);
            double cublasVsCpu = MaxRelative(yc, reference, scale);
            var y = arena.Download<float>(dy, (long)m * n);
            return new Row(shape, w.Bits, m, null, new Check(MaxRelative(y, reference, scale),
                MaxRelative(y, yc, scale), cublasVsCpu, LowBitTolerance(k, m, w.Bits, w.GroupLength), CublasTolerance(k)));
        }

        double flops = 2.0 * m * n * k;
        double bytes = packedBytes + (double)m * k * sizeof(ushort) + (double)m * n * sizeof(float);
        double lowBitUs = MedianMicroseconds(runtime, runs, devices.Count, i => devices[i].Forward(dy, dx, m, LowBitOutput.Float32));
        double cublasUs = MedianMicroseconds(runtime, runs, halves.Count, i => Cublas(halves[i]));
        return new Row(shape, w.Bits, m,
            new Timing(lowBitUs, cublasUs, flops, bytes, lowBitCopies, copyGBps), null);
    }

    /// <summary>Copies whose total exceeds twice L2 (at least 2), so consecutive launches never hit the cache.</summary>
    private static int Copies(long bytes, long l2) => (int)Math.Max(2, (2 * l2 + bytes - 1) / bytes + 1);

    /// <summary>One warm-up rotation, then the median over <paramref name="runs"/> timed rotations of the time per launch.</summary>
    private static double MedianMicroseconds(ICudaRuntime runtime, int runs, int copies, Action<int> launch)
    {
        void Rotation()
        {
            for (int i = 0; i < copies; i++) launch(i);
        }
        Rotation();
        runtime.Synchronize();
        var times = new double[runs];
        for (int r = 0; r < runs; r++)
            times[r] = (runtime.TimeMilliseconds(Rotation) ?? double.NaN) * 1e3 / copies;
        Array.Sort(times);
        return runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
    }

    /// <summary>GB/s of a device-to-device copy of <paramref name="bytes"/> (read + write counted).</summary>
    public static double CopyBandwidth(ICudaRuntime runtime, long bytes, int runs)
    {
        using var arena = new DeviceArena(runtime);
        var src = arena.Allocate(bytes);
        var dst = arena.Allocate(bytes);
        runtime.Memset(src, 1, bytes);
        double us = MedianMicroseconds(runtime, runs, 1, _ => runtime.CopyDeviceToDevice(dst, src, bytes));
        return 2.0 * bytes / (us * 1e-6) / 1e9;
    }

    /// <summary>Random asymmetric W<paramref name="bits"/> weights: codes uniform, fp16 scales in [0.005, 0.055],
    /// zeros uniform, packed as a GPTQ v2 layer and repacked to the kernel layout (the path a checkpoint takes).</summary>
    public static LowBitWeights RandomWeights(Random r, int n, int k, int bits, int group)
    {
        var config = new QuantizerConfig(bits, group <= 0 ? QuantizerConfig.PerChannelGroupSize : group, symmetric: false);
        var layout = config.Layout(k);
        int qmax = config.MaxCode;
        var codes = new byte[(long)n * k];
        for (long i = 0; i < codes.LongLength; i++) codes[i] = (byte)r.Next(qmax + 1);
        var scales = new float[n * layout.Groups];
        var zeros = new int[n * layout.Groups];
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = (float)(Half)(0.005 + 0.05 * r.NextDouble());
            zeros[i] = r.Next(qmax + 1);
        }
        var matrix = new QuantizedMatrix(n, k, config, codes, scales, zeros, QuantizedMatrix.NaturalGroupIndex(layout));
        return LowBitRepack.FromGptq(GptqPacker.Pack(matrix, GptqCheckpointFormat.V2));
    }

    private static Half[] Activations(Random r, int m, int k)
    {
        var x = new Half[(long)m * k];
        for (long i = 0; i < x.LongLength; i++) x[i] = (Half)(4 * r.NextDouble() - 2);
        return x;
    }

    /// <summary>Σ_k |x[i, k]·ŵ[j, k]| per output, the scale of its rounding error.</summary>
    private static double[] AbsSums(float[] w, Half[] x, int m, int n, int k)
    {
        var s = new double[(long)m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int t = 0; t < k; t++) sum += Math.Abs((double)(float)x[(long)i * k + t] * w[(long)j * k + t]);
            s[(long)i * n + j] = sum;
        }
        return s;
    }

    private static double MaxRelative(float[] a, float[] b, double[] scale)
    {
        double worst = 0;
        for (long i = 0; i < a.LongLength; i++)
            worst = Math.Max(worst, Math.Abs(a[i] - (double)b[i]) / Math.Max(scale[i], double.Epsilon));
        return worst;
    }
}
