using QuantNative.Cuda;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// The repacked weights of a <see cref="LowBitLinear"/> in device memory, and the launches of y = x·Ŵᵀ: the GEMV
/// (kernels/gemm/lowbit_gemv.cu) for M ≤ <see cref="LowBitGemvLaunch.MaxM"/>, the tensor-core GEMM
/// (kernels/gemm/lowbit_mma.cu) above; for act-order weights (<see cref="LowBitWeights.Permutation"/>) x's columns are
/// first permuted into a device scratch buffer by kernels/gemm/lowbit_gather.cu. When the GEMM's grid is small
/// (<see cref="LowBitMmaLaunch.Splits"/>) K is split over grid.z into a float32 workspace, then summed by
/// kernels/gemm/lowbit_splitk.cu into y.
/// </summary>
public sealed unsafe class LowBitDeviceLinear : IDisposable
{
    public const string GatherKernel = "qn_lowbit_gather_forward_f16";
    private const int ElementwiseThreads = 256;

    private readonly ICudaRuntime _runtime;
    private DevicePtr _scratch, _partials;
    private long _scratchBytes, _partialsBytes;
    private bool _disposed;

    internal LowBitDeviceLinear(ICudaRuntime runtime, LowBitWeights weights)
    {
        _runtime = runtime;
        Weights = weights;
        runtime.LoadModule(LowBitGemvLaunch.Family);
        try
        {
            QWeight = Upload(weights.QWeight);
            ScaleZero = Upload(weights.ScaleZero);
            if (weights.Permutation is { } p) Permutation = Upload(p);
        }
        catch
        {
            FreeAll();
            throw;
        }
    }

    public LowBitWeights Weights { get; }
    public DevicePtr QWeight { get; }
    public DevicePtr ScaleZero { get; }

    /// <summary>int32 [K] on the device for act-order weights; null otherwise.</summary>
    public DevicePtr Permutation { get; }

    /// <summary>Tests: the split-K count of the tensor-core path instead of <see cref="LowBitMmaLaunch.Splits"/>.</summary>
    internal int? MmaSplitsOverride { get; set; }

    /// <summary>
    /// y [M, N] (fp16 or float32 per <paramref name="output"/>) = x [M, K] (fp16, 16-byte aligned) · Ŵᵀ; shapes and
    /// alignment are checked before the launch. M ≤ <see cref="LowBitGemvLaunch.MaxM"/> runs the GEMV (one pass over
    /// the weights, no tensor cores: at a few rows the weight bytes are the whole cost), larger M the tensor-core GEMM
    /// (see <see cref="KernelFor"/>). Act-order weights first gather x's columns into a scratch buffer this object
    /// keeps (grown as needed), so calls on one instance must not overlap on different streams.
    /// </summary>
    public void Forward(DevicePtr y, DevicePtr x, int m, LowBitOutput output)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string kernel = KernelFor(m, output);
        Dim3 grid, block;
        uint shared = 0;
        int splits = 1;
        if (m <= LowBitGemvLaunch.MaxM) (grid, block) = LowBitGemvLaunch.Plan(kernel, Weights, m);
        else
        {
            splits = MmaSplitsOverride ?? LowBitMmaLaunch.Splits(Weights, m);
            if (splits > 1) kernel = LowBitMmaLaunch.KernelF32; // float32 partials, reduced below
            (grid, block, shared) = LowBitMmaLaunch.Plan(kernel, Weights, m, splits);
        }
        if (x.Address % 16 != 0)
            throw new QuantNativeException(
                $"{kernel} {LowBitGemvLaunch.Shape(Weights, m)}: x at {x} is not 16-byte aligned (rows are read as 16-byte vectors)");
        if (!Permutation.IsNull) x = Gather(x, m);
        long outputs = (long)m * Weights.N;
        DevicePtr target = splits > 1 ? Grow(ref _partials, ref _partialsBytes, splits * outputs * sizeof(float)) : y;
        using (var args = new KernelArguments(9))
        {
            args.Add(target).Add(QWeight).Add(ScaleZero).Add(x).Add(m).Add(Weights.N).Add(Weights.K)
                .Add(Weights.GroupLength).Add(Weights.Bits);
            _runtime.Launch(kernel, grid, block, shared, args);
        }
        if (splits > 1)
        {
            using var args = new KernelArguments(4);
            args.Add(y).Add(_partials).Add(splits).Add((int)outputs);
            _runtime.Launch(LowBitMmaLaunch.Reduce(output), GridFor(outputs), new Dim3(ElementwiseThreads), 0, args);
        }
    }

    /// <summary>The kernel <see cref="Forward"/> launches for M rows: the GEMV up to <see cref="LowBitGemvLaunch.MaxM"/>
    /// rows, the tensor-core GEMM above (with split K its _f32 variant into the workspace, then the reduction).</summary>
    public static string KernelFor(int m, LowBitOutput output) =>
        m <= LowBitGemvLaunch.MaxM ? LowBitGemvLaunch.Kernel(output) : LowBitMmaLaunch.Kernel(output);

    // x [M, K] → scratch [M, K] with scratch[m, j] = x[m, perm[j]] (M·K < 2^31: checked by the plans above).
    private DevicePtr Gather(DevicePtr x, int m)
    {
        long total = (long)m * Weights.K;
        Grow(ref _scratch, ref _scratchBytes, total * 2);
        using var args = new KernelArguments(5);
        args.Add(_scratch).Add(x).Add(Permutation).Add(m).Add(Weights.K);
        _runtime.Launch(GatherKernel, GridFor(total), new Dim3(ElementwiseThreads), 0, args);
        return _scratch;
    }

    // Grid-stride kernels (gather, split-K reduction): one thread per element up to 65535 blocks.
    private static Dim3 GridFor(long elements) =>
        new((uint)Math.Min((elements + ElementwiseThreads - 1) / ElementwiseThreads, 65535));

    // A device buffer kept between calls, reallocated when a call needs more.
    private DevicePtr Grow(ref DevicePtr buffer, ref long capacity, long bytes)
    {
        if (bytes <= capacity) return buffer;
        if (!buffer.IsNull) _runtime.Free(buffer);
        buffer = default;
        capacity = 0;
        buffer = _runtime.Allocate(bytes);
        capacity = bytes;
        return buffer;
    }

    private DevicePtr Upload<T>(T[] host) where T : unmanaged => Device.DeviceBuffer.Upload<T>(_runtime, host);

    private void FreeAll()
    {
        foreach (var p in new[] { QWeight, ScaleZero, Permutation, _scratch, _partials })
            if (!p.IsNull) _runtime.Free(p);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        FreeAll();
    }
}
