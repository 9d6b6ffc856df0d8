using QuantNative.Cpu;
using QuantNative.Cuda;

namespace QuantNative.Quantization.LowBit;

/// <summary>
/// A linear layer y = x·Ŵᵀ with W2/W3/W4 weights held in the low-bit kernel layout (<see cref="LowBitWeights"/>),
/// repacked once from a GPTQ checkpoint layer. Two paths:
/// <list type="bullet">
/// <item><see cref="ForwardCpu"/>: the C# reference — Ŵ dequantized to float32 once (exact: a small integer times an
/// fp16 scale) and multiplied by <see cref="Gemm"/> in float32; any M, K, N.</item>
/// <item><see cref="Upload"/> → <see cref="LowBitDeviceLinear.Forward"/>: through an <see cref="ICudaRuntime"/> (a GPU
/// or the emulator), any M: M ≤ 8 runs the memory-bound GEMV kernels/gemm/lowbit_gemv.cu (shapes checked by
/// <see cref="LowBitGemvLaunch"/>), M &gt; 8 the tensor-core GEMM kernels/gemm/lowbit_mma.cu (checked by
/// <see cref="LowBitMmaLaunch"/>). Both read the same repacked weights, so one upload serves every batch size.</item>
/// </list>
/// </summary>
public sealed class LowBitLinear
{
    private float[]? _dequantized;

    public LowBitLinear(LowBitWeights weights) => Weights = weights;

    public static LowBitLinear FromGptq(PackedGptqLinear packed, string tensor = "weight") =>
        new(LowBitRepack.FromGptq(packed, tensor));

    public LowBitWeights Weights { get; }
    public int InFeatures => Weights.K;
    public int OutFeatures => Weights.N;

    /// <summary>y [M, N] = x [M, K] · Ŵᵀ in float32 (fp16 activations widened exactly).</summary>
    public void ForwardCpu(ReadOnlySpan<Half> x, int m, Span<float> y)
    {
        int k = Weights.K, n = Weights.N;
        if (m < 1 || x.Length != (long)m * k || y.Length != (long)m * n)
            throw new QuantNativeException(
                $"low-bit linear [{n}, {k}]: x has {x.Length} elements, y {y.Length}; expected x [{m}, {k}], y [{m}, {n}]");
        _dequantized ??= Weights.Dequantize();
        var xf = new float[x.Length];
        for (int i = 0; i < xf.Length; i++) xf[i] = (float)x[i];
        Gemm.MatMulTransB<float>(xf, _dequantized, y, m, n, k);
    }

    /// <summary>Copies the repacked weights to the device and loads the gemm kernels.</summary>
    public LowBitDeviceLinear Upload(ICudaRuntime runtime) => new(runtime, Weights);
}

/// <summary>The repacked weights of a <see cref="LowBitLinear"/> in device memory, and the GEMV / tensor-core GEMM
/// launches.</summary>
public sealed unsafe class LowBitDeviceLinear : IDisposable
{
    private readonly ICudaRuntime _runtime;
    private bool _disposed;

    internal LowBitDeviceLinear(ICudaRuntime runtime, LowBitWeights weights)
    {
        _runtime = runtime;
        Weights = weights;
        runtime.LoadModule(LowBitGemvLaunch.Family);
        QWeight = runtime.Allocate(weights.QWeight.LongLength * sizeof(uint));
        try
        {
            ScaleZero = runtime.Allocate(weights.ScaleZero.LongLength * sizeof(uint));
            fixed (uint* q = weights.QWeight) runtime.CopyHostToDevice(QWeight, q, weights.QWeight.LongLength * sizeof(uint));
            fixed (uint* s = weights.ScaleZero) runtime.CopyHostToDevice(ScaleZero, s, weights.ScaleZero.LongLength * sizeof(uint));
        }
        catch
        {
            runtime.Free(QWeight);
            if (!ScaleZero.IsNull) runtime.Free(ScaleZero);
            throw;
        }
    }

    public LowBitWeights Weights { get; }
    public DevicePtr QWeight { get; }
    public DevicePtr ScaleZero { get; }

    /// <summary>
    /// y [M, N] (fp16 or float32 per <paramref name="output"/>) = x [M, K] (fp16, 16-byte aligned) · Ŵᵀ; shapes and
    /// alignment are checked before the launch. M ≤ <see cref="LowBitGemvLaunch.MaxM"/> runs the GEMV (one pass over
    /// the weights, no tensor cores: at a few rows the weight bytes are the whole cost), larger M the tensor-core GEMM
    /// (see <see cref="KernelFor"/>).
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
        using var args = new KernelArguments(9);
        args.Add(y).Add(QWeight).Add(ScaleZero).Add(x).Add(m).Add(Weights.N).Add(Weights.K).Add(Weights.GroupLength)
            .Add(Weights.Bits);
        _runtime.Launch(kernel, grid, block, shared, args.Pointers);
    }

    /// <summary>The kernel <see cref="Forward"/> launches for M rows: the GEMV up to <see cref="LowBitGemvLaunch.MaxM"/>
    /// rows, the tensor-core GEMM above.</summary>
    public static string KernelFor(int m, LowBitOutput output) =>
        m <= LowBitGemvLaunch.MaxM ? LowBitGemvLaunch.Kernel(output) : LowBitMmaLaunch.Kernel(output);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _runtime.Free(QWeight);
        _runtime.Free(ScaleZero);
    }
}
