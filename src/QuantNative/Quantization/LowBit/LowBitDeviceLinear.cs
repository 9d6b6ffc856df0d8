using QuantNative.Cuda;

namespace QuantNative.Quantization.LowBit;

/// <summary>
/// The repacked weights of a <see cref="LowBitLinear"/> in device memory, and the launches of y = x·Ŵᵀ: the GEMV
/// (kernels/gemm/lowbit_gemv.cu) for M ≤ <see cref="LowBitGemvLaunch.MaxM"/>, the tensor-core GEMM
/// (kernels/gemm/lowbit_mma.cu) above; for act-order weights (<see cref="LowBitWeights.Permutation"/>) x's columns are
/// first permuted into a device scratch buffer by kernels/gemm/lowbit_gather.cu.
/// </summary>
public sealed unsafe class LowBitDeviceLinear : IDisposable
{
    public const string GatherKernel = "qn_lowbit_gather_forward_f16";
    private const int GatherThreads = 256;

    private readonly ICudaRuntime _runtime;
    private DevicePtr _scratch;
    private long _scratchBytes;
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
        if (m <= LowBitGemvLaunch.MaxM) (grid, block) = LowBitGemvLaunch.Plan(kernel, Weights, m);
        else (grid, block, shared) = LowBitMmaLaunch.Plan(kernel, Weights, m);
        if (x.Address % 16 != 0)
            throw new QuantNativeException(
                $"{kernel} {LowBitGemvLaunch.Shape(Weights, m)}: x at {x} is not 16-byte aligned (rows are read as 16-byte vectors)");
        if (!Permutation.IsNull) x = Gather(x, m);
        using var args = new KernelArguments(9);
        args.Add(y).Add(QWeight).Add(ScaleZero).Add(x).Add(m).Add(Weights.N).Add(Weights.K).Add(Weights.GroupLength)
            .Add(Weights.Bits);
        _runtime.Launch(kernel, grid, block, shared, args.Pointers);
    }

    /// <summary>The kernel <see cref="Forward"/> launches for M rows: the GEMV up to <see cref="LowBitGemvLaunch.MaxM"/>
    /// rows, the tensor-core GEMM above.</summary>
    public static string KernelFor(int m, LowBitOutput output) =>
        m <= LowBitGemvLaunch.MaxM ? LowBitGemvLaunch.Kernel(output) : LowBitMmaLaunch.Kernel(output);

    // x [M, K] → scratch [M, K] with scratch[m, j] = x[m, perm[j]] (M·K < 2^31: checked by the plans above).
    private DevicePtr Gather(DevicePtr x, int m)
    {
        long bytes = (long)m * Weights.K * 2;
        if (bytes > _scratchBytes)
        {
            if (!_scratch.IsNull) _runtime.Free(_scratch);
            _scratch = default;
            _scratch = _runtime.Allocate(bytes);
            _scratchBytes = bytes;
        }
        long total = (long)m * Weights.K;
        uint blocks = (uint)Math.Min((total + GatherThreads - 1) / GatherThreads, 65535);
        using var args = new KernelArguments(5);
        args.Add(_scratch).Add(x).Add(Permutation).Add(m).Add(Weights.K);
        _runtime.Launch(GatherKernel, new Dim3(blocks), new Dim3(GatherThreads), 0, args.Pointers);
        return _scratch;
    }

    private DevicePtr Upload<T>(T[] host) where T : unmanaged
    {
        long bytes = host.LongLength * sizeof(T);
        var d = _runtime.Allocate(bytes);
        try
        {
            fixed (T* p = host) _runtime.CopyHostToDevice(d, p, bytes);
        }
        catch
        {
            _runtime.Free(d);
            throw;
        }
        return d;
    }

    private void FreeAll()
    {
        foreach (var p in new[] { QWeight, ScaleZero, Permutation, _scratch })
            if (!p.IsNull) _runtime.Free(p);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        FreeAll();
    }
}
