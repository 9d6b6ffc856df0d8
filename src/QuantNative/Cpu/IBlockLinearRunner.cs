using QuantNative.Inference;

namespace QuantNative.Cpu;

/// <summary>
/// Runs some of a model's block linears somewhere other than the CPU float32 GEMM (e.g. the low-bit device kernel,
/// <see cref="DeviceBlockLinears"/>). <see cref="BlockForward"/> asks it first for each of the seven linears and
/// falls back to the CPU GEMM on the block's float32 weights when it declines.
/// </summary>
public interface IBlockLinearRunner
{
    /// <summary>
    /// y [tokens, out] = x [tokens, in] · Wᵀ (y += … when <paramref name="accumulate"/>) for layer
    /// <paramref name="layer"/>'s linear <paramref name="part"/> (a <see cref="Model.BlockLinears"/> part, e.g.
    /// "mlp.down_proj"); false, touching nothing, when this layer is not run here.
    /// </summary>
    bool TryForward(int layer, string part, ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate);
}
