using System.Numerics;
using QuantNative.Cpu;
using QuantNative.Model;

namespace QuantNative.Backends;

/// <summary>
/// The LLaMA block's ops (DESIGN.md §3, §7.8), each forward next to its backward, in the §9 argument order. Every
/// tensor is row-major and contiguous; an op reads and writes the first elements its sizes name, so a buffer may be
/// longer (activations sized for the longest window). Generic over the element type: the CPU backend runs float and
/// double (the finite-difference reference), the CUDA backend float only and refuses others by name. Shapes are
/// checked before any work (<see cref="BackendChecks.Require"/>).
/// </summary>
public partial interface IBackend
{
    /// <summary>y [rows, out] = x [rows, in]·Wᵀ with W [out, in], added to y when <paramref name="accumulate"/>
    /// (a residual). See <see cref="Cpu.Linear.Forward{T}"/>.</summary>
    void LinearForward<T>(BackendBuffer<T> y, BackendBuffer<T> x, BackendBuffer<T> weight, int rows, int outDim,
        int inDim, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>dx [rows, in] = dy·W (added when <paramref name="accumulateInput"/>), dW [out, in] = dyᵀ·x (added when
    /// <paramref name="accumulateParameters"/>); either may be null. See <see cref="Cpu.Linear.Backward{T}"/>.</summary>
    void LinearBackward<T>(BackendBuffer<T>? dx, BackendBuffer<T>? dWeight, BackendBuffer<T> dy, BackendBuffer<T> x,
        BackendBuffer<T> weight, int rows, int outDim, int inDim, bool accumulateInput = false,
        bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>y [rows, dim] = γ ⊙ x / r per row, r = sqrt(mean(x²) + eps); inverseRms [rows] keeps 1/r.</summary>
    void RmsNormForward<T>(BackendBuffer<T> y, BackendBuffer<T> inverseRms, BackendBuffer<T> x, BackendBuffer<T> gamma,
        int rows, int dim, double eps) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>dx [rows, dim] (added when <paramref name="accumulateInput"/>; may alias dy when not), dγ [dim] (added
    /// when <paramref name="accumulateParameters"/>; skipped when null). See <see cref="Cpu.RmsNorm.Backward{T}"/>.</summary>
    void RmsNormBackward<T>(BackendBuffer<T> dx, BackendBuffer<T>? dGamma, BackendBuffer<T> dy, BackendBuffer<T> x,
        BackendBuffer<T> inverseRms, BackendBuffer<T> gamma, int rows, int dim, bool accumulateInput = false,
        bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Rotates x [rows, heads·headDim] in place (rotate-half layout), row r at position r, angles
    /// r·inv_freq_i of <paramref name="rope"/> (θ^(−2i/headDim), scaled). See <see cref="Cpu.Rope"/>.</summary>
    void RopeForward<T>(BackendBuffer<T> x, int rows, int heads, int headDim, RopeParameters rope)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>The gradient through <see cref="RopeForward{T}"/>, in place: dx rotated by −θ.</summary>
    void RopeBackward<T>(BackendBuffer<T> dx, int rows, int heads, int headDim, RopeParameters rope)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Causal grouped-query attention over a sequence at positions 0..tokens−1: output [T, heads·headDim],
    /// logSumExp [heads, T] saved for the backward; q [T, heads·headDim] and k, v [T, kvHeads·headDim], rotated.
    /// <paramref name="window"/> 0 is plain causal; W &gt; 0 a sliding window (Mistral): query i sees keys
    /// i − W &lt; j ≤ i. See <see cref="Cpu.CausalAttention"/>.</summary>
    void AttentionForward<T>(BackendBuffer<T> output, BackendBuffer<T> logSumExp, BackendBuffer<T> q,
        BackendBuffer<T> k, BackendBuffer<T> v, int tokens, int heads, int kvHeads, int headDim, int window = 0)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>dQ [T, heads·headDim], dK, dV [T, kvHeads·headDim] (overwritten) from dOutput and the forward's q, k,
    /// v, logSumExp and window. See <see cref="Cpu.CausalAttention.Backward{T}"/>.</summary>
    void AttentionBackward<T>(BackendBuffer<T> dQ, BackendBuffer<T> dK, BackendBuffer<T> dV, BackendBuffer<T> dOutput,
        BackendBuffer<T> q, BackendBuffer<T> k, BackendBuffer<T> v, BackendBuffer<T> logSumExp, int tokens, int heads,
        int kvHeads, int headDim, int window = 0) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>h = silu(a) ⊙ b over <paramref name="count"/> elements.</summary>
    void SwiGluForward<T>(BackendBuffer<T> h, BackendBuffer<T> a, BackendBuffer<T> b, long count)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>da = dh ⊙ b ⊙ σ(a)·(1 + a·(1 − σ(a))), db = dh ⊙ silu(a); da may alias dh.</summary>
    void SwiGluBackward<T>(BackendBuffer<T> da, BackendBuffer<T> db, BackendBuffer<T> dh, BackendBuffer<T> a,
        BackendBuffer<T> b, long count) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>L = Σ (y − t)² / count, summed in double (waits for the device). See <see cref="Cpu.MseLoss"/>.</summary>
    double MseForward<T>(BackendBuffer<T> y, BackendBuffer<T> target, long count)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>dy = dLoss·2(y − t)/count, added to dy when <paramref name="accumulate"/>.</summary>
    void MseBackward<T>(BackendBuffer<T> dy, double dLoss, BackendBuffer<T> y, BackendBuffer<T> target, long count,
        bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>The first <paramref name="count"/> elements of src into dst.</summary>
    void Copy<T>(BackendBuffer<T> dst, BackendBuffer<T> src, long count) where T : unmanaged;

    /// <summary>dst += src over the first <paramref name="count"/> elements (a second gradient path added to the
    /// first: cross-layer learning's look-ahead gradient into dy).</summary>
    void Add<T>(BackendBuffer<T> dst, BackendBuffer<T> src, long count) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>y [rows, cols] += bias [cols] on every row: a linear layer's bias (Qwen2's q/k/v projections) after
    /// its GEMM. See <see cref="Cpu.Linear.AddBias{T}"/>.</summary>
    void AddBias<T>(BackendBuffer<T> y, BackendBuffer<T> bias, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>SDE's Aᵀ [active, rows] (DESIGN.md §7.6): row j = Σ e[p]·ut[maskRows[p], :] over column j's mask entries
    /// p ∈ [columnStarts[j], columnStarts[j + 1]), summed from 0 in entry order; ut is Uᵀ [≥ active, rows], e one value
    /// per entry (<paramref name="entries"/> of them). See <see cref="Cpu.SdeMath.Columns{T}"/>.</summary>
    void SdeColumns<T>(BackendBuffer<T> at, BackendBuffer<T> ut, BackendBuffer<T> e, BackendBuffer<int> maskRows,
        BackendBuffer<int> columnStarts, int entries, int active, int rows) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>SDE's dE (§7.6): dE[p] = ⟨ut[maskRows[p], :], tt[maskCols[p], :]⟩ for the <paramref name="entries"/>
    /// mask entries, ut = Uᵀ and tt = Tᵀ = Vᵀ·Gᵀ, both [≥ active, rows]. See
    /// <see cref="Cpu.SdeMath.MaskedDots{T}"/>.</summary>
    void SdeMaskedDot<T>(BackendBuffer<T> dE, BackendBuffer<T> ut, BackendBuffer<T> tt, BackendBuffer<int> maskRows,
        BackendBuffer<int> maskCols, int entries, int rows) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>One AdamW update (torch.optim.AdamW) of one parameter's first <paramref name="count"/> elements:
    /// value, its moments expAvg and expAvgSq in place, from grad, with the step's scalars. See
    /// <see cref="AdamWUpdate"/>.</summary>
    void AdamWStep<T>(BackendBuffer<T> value, BackendBuffer<T> expAvg, BackendBuffer<T> expAvgSq,
        BackendBuffer<T> grad, long count, AdamWStepScalars step) where T : unmanaged, IFloatingPointIeee754<T>;
}
