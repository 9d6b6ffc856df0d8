using QuantNative.Cpu;
using QuantNative.Cuda;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// A linear layer y = x·Ŵᵀ with W2/W3/W4 weights held in the low-bit kernel layout (<see cref="LowBitWeights"/>),
/// repacked once from a GPTQ checkpoint layer. Two paths:
/// <list type="bullet">
/// <item><see cref="ForwardCpu"/>: the C# reference — Ŵ dequantized to float32 once (exact: a small integer times an
/// fp16 scale) and multiplied by <see cref="Gemm"/> in float32; any M, K, N.</item>
/// <item><see cref="Upload"/> → <see cref="LowBitDeviceLinear.Forward"/>: through an <see cref="ICudaRuntime"/> (a GPU
/// or the emulator), any M: M ≤ 8 runs the memory-bound GEMV kernels/gemm/lowbit_gemv.cu (shapes checked by
/// <see cref="LowBitGemvLaunch"/>), M &gt; 8 the tensor-core GEMM kernels/gemm/lowbit_mma.cu (checked by
/// <see cref="LowBitMmaLaunch"/>). Both read the same repacked weights, so one upload serves every batch size; act-order
/// weights have x's columns permuted on the device first (kernels/gemm/lowbit_gather.cu).</item>
/// </list>
/// </summary>
public sealed class LowBitLinear
{
    private float[]? _dequantized;

    public LowBitLinear(LowBitWeights weights) => Weights = weights;

    public LowBitWeights Weights { get; }

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
