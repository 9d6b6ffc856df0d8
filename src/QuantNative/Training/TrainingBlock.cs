using System.Numerics;
using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// One LLaMA block (DESIGN.md §7.8) over one window of T tokens at positions 0..T−1, forward keeping what the
/// backward needs, and the hand-written backward: x → h = x + Wo·Attn(n1(x)) → y = h + W2·(silu(W1·n2(h)) ⊙ W3·n2(h)).
/// Written once against <see cref="IBackend"/>: the backend of the activations runs every op, on buffers of its own.
/// The weights are arguments, not state, so a caller can pass fake-quantized ones each step. Several windows: one
/// call per window (parameter gradients can accumulate across calls). The block's extras (<see cref="BlockExtras{TTensor}"/>:
/// q/k/v/o biases, Qwen3's q/k norms) take part in both passes but get no gradients: no method learns them. Mistral's
/// sliding window restricts the attention in both. Generic over float (the fast path, and the
/// only type of the CUDA backend) and double (the CPU reference for finite-difference tests). The array overloads are
/// CPU conveniences: they wrap the arrays (no copies) and run the same code on the CPU backend.
/// </summary>
public static class TrainingBlock
{
    /// <summary>y [T, hidden] = block(x [T, hidden]) on <paramref name="saved"/>'s backend; <paramref name="saved"/>
    /// receives what the backward needs. y may alias x.</summary>
    public static void Forward<T>(BackendBuffer<T> y, BlockActivations<T> saved, BackendBuffer<T> x,
        BlockBuffers<T> w, LlamaConfig c, int tokens) where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(y, saved, x, w, c, tokens, c.Rope);

    /// <summary>The array form of <see cref="Forward{T}(BackendBuffer{T}, BlockActivations{T}, BackendBuffer{T},
    /// BlockBuffers{T}, LlamaConfig, int)"/> on the CPU backend; <paramref name="rope"/> gives the RoPE base and must
    /// cover the window.</summary>
    public static void Forward<T>(T[] y, BlockActivations<T> saved, T[] x, BlockTensors<T> w, LlamaConfig c,
        Rope rope, int tokens) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckRope(c, rope, tokens);
        var cpu = Cpu(saved.Backend);
        Forward(cpu.Wrap(y), saved, cpu.Wrap(x), BlockBuffers<T>.Wrap(cpu, w), c, tokens, rope.Parameters);
    }

    private static void Forward<T>(BackendBuffer<T> y, BlockActivations<T> saved, BackendBuffer<T> x,
        BlockBuffers<T> w, LlamaConfig c, int tokens, RopeParameters rope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckTokens(tokens, saved.Capacity);
        var b = saved.Backend;
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, qd = c.QDim, td = tokens * d;
        var s = saved;
        var e = w.Extras;
        s.Tokens = tokens;
        b.Copy(s.Input, x, td);

        b.RmsNormForward(s.Normed1, s.InverseRms1, s.Input, w.AttnNorm, tokens, d, c.RmsNormEps);
        // With q/k norms the projections land in QRaw/KRaw (kept for the norms' backward), the normed heads in Q/K.
        var q = s.QRaw ?? s.Q;
        var k = s.KRaw ?? s.K;
        b.LinearForward(q, s.Normed1, w.Wq, tokens, qd, d);
        b.LinearForward(k, s.Normed1, w.Wk, tokens, kv, d);
        b.LinearForward(s.V, s.Normed1, w.Wv, tokens, kv, d);
        if (e.QBias != null) b.AddBias(q, e.QBias, tokens, qd);
        if (e.KBias != null) b.AddBias(k, e.KBias, tokens, kv);
        if (e.VBias != null) b.AddBias(s.V, e.VBias, tokens, kv);
        if (e.QNorm != null)
            b.RmsNormForward(s.Q, s.InverseRmsQ!, q, e.QNorm, tokens * c.NumHeads, c.HeadDim, c.RmsNormEps);
        if (e.KNorm != null)
            b.RmsNormForward(s.K, s.InverseRmsK!, k, e.KNorm, tokens * c.NumKvHeads, c.HeadDim, c.RmsNormEps);
        b.RopeForward(s.Q, tokens, c.NumHeads, c.HeadDim, rope);
        b.RopeForward(s.K, tokens, c.NumKvHeads, c.HeadDim, rope);
        b.AttentionForward(s.Attention, s.LogSumExp, s.Q, s.K, s.V, tokens, c.NumHeads, c.NumKvHeads, c.HeadDim,
            c.SlidingWindow);
        b.Copy(s.H, s.Input, td);
        b.LinearForward(s.H, s.Attention, w.Wo, tokens, d, qd, accumulate: true); // the residual, folded into the GEMM
        if (e.OBias != null) b.AddBias(s.H, e.OBias, tokens, d);

        b.RmsNormForward(s.Normed2, s.InverseRms2, s.H, w.FfnNorm, tokens, d, c.RmsNormEps);
        b.LinearForward(s.Gate, s.Normed2, w.WGate, tokens, f, d);
        b.LinearForward(s.Up, s.Normed2, w.WUp, tokens, f, d);
        b.SwiGluForward(s.Mlp, s.Gate, s.Up, (long)tokens * f);
        b.Copy(y, s.H, td);
        b.LinearForward(y, s.Mlp, w.WDown, tokens, d, f, accumulate: true);
    }

    /// <summary>
    /// From dy = dL/dy [T, hidden]: dx = dL/dx [T, hidden] and every parameter gradient in <paramref name="dWeights"/>
    /// (the seven linear layers and both norms), overwritten, or added to when <paramref name="accumulateParameters"/>
    /// (several windows per step). <paramref name="w"/> must be the weights the forward ran with. dx may alias dy.
    /// </summary>
    public static void Backward<T>(BackendBuffer<T> dx, BlockBuffers<T> dWeights, BackendBuffer<T> dy,
        BlockActivations<T> saved, BlockBuffers<T> w, LlamaConfig c, BlockGradientWorkspace<T> ws,
        bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>
        => Backward(dx, dWeights, dy, saved, w, c, ws, accumulateParameters, c.Rope);

    /// <summary>The array form of <see cref="Backward{T}(BackendBuffer{T}, BlockBuffers{T}, BackendBuffer{T},
    /// BlockActivations{T}, BlockBuffers{T}, LlamaConfig, BlockGradientWorkspace{T}, bool)"/> on the CPU backend.</summary>
    public static void Backward<T>(T[] dx, BlockTensors<T> dWeights, T[] dy, BlockActivations<T> saved,
        BlockTensors<T> w, LlamaConfig c, Rope rope, BlockGradientWorkspace<T> ws, bool accumulateParameters = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckRope(c, rope, saved.Tokens);
        var cpu = Cpu(saved.Backend);
        Backward(cpu.Wrap(dx), BlockBuffers<T>.Wrap(cpu, dWeights), cpu.Wrap(dy), saved, BlockBuffers<T>.Wrap(cpu, w),
            c, ws, accumulateParameters, rope.Parameters);
    }

    private static void Backward<T>(BackendBuffer<T> dx, BlockBuffers<T> dWeights, BackendBuffer<T> dy,
        BlockActivations<T> saved, BlockBuffers<T> w, LlamaConfig c, BlockGradientWorkspace<T> ws,
        bool accumulateParameters, RopeParameters rope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = saved;
        var b = saved.Backend;
        if (!ReferenceEquals(ws.Backend, b))
            throw new QuantNativeException(
                $"training block backward: the workspace is on {ws.Backend.Description}, the activations on {b.Description}");
        int tokens = s.Tokens;
        CheckTokens(tokens, ws.Capacity);
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, qd = c.QDim, td = tokens * d;
        var e = w.Extras;
        bool acc = accumulateParameters;

        // y = h + W2·m, m = silu(a)⊙b, a = n2·W1ᵀ, b = n2·W3ᵀ.
        b.LinearBackward(ws.DGate, dWeights.WDown, dy, s.Mlp, w.WDown, tokens, d, f, accumulateParameters: acc);
        b.SwiGluBackward(ws.DGate, ws.DUp, ws.DGate, s.Gate, s.Up, (long)tokens * f);
        b.LinearBackward(ws.DNormed, dWeights.WGate, ws.DGate, s.Normed2, w.WGate, tokens, f, d,
            accumulateParameters: acc);
        b.LinearBackward(ws.DNormed, dWeights.WUp, ws.DUp, s.Normed2, w.WUp, tokens, f, d,
            accumulateInput: true, accumulateParameters: acc);
        b.Copy(ws.DH, dy, td); // the residual path
        b.RmsNormBackward(ws.DH, dWeights.FfnNorm, ws.DNormed, s.H, s.InverseRms2, w.FfnNorm, tokens, d,
            accumulateInput: true, accumulateParameters: acc);

        // h = x + Wo·attention(rope(qn(n1·Wqᵀ + bq)), rope(kn(n1·Wkᵀ + bk)), n1·Wvᵀ + bv) + bo; the biases are
        // constants here (their gradients are not needed), the q/k norms (qn, kn: identity without them) are not.
        b.LinearBackward(ws.DAttention, dWeights.Wo, ws.DH, s.Attention, w.Wo, tokens, d, qd,
            accumulateParameters: acc);
        b.AttentionBackward(ws.DQ, ws.DK, ws.DV, ws.DAttention, s.Q, s.K, s.V, s.LogSumExp,
            tokens, c.NumHeads, c.NumKvHeads, c.HeadDim, c.SlidingWindow);
        b.RopeBackward(ws.DQ, tokens, c.NumHeads, c.HeadDim, rope);
        b.RopeBackward(ws.DK, tokens, c.NumKvHeads, c.HeadDim, rope);
        if (e.QNorm != null)
            b.RmsNormBackward(ws.DQ, null, ws.DQ, s.QRaw!, s.InverseRmsQ!, e.QNorm, tokens * c.NumHeads, c.HeadDim);
        if (e.KNorm != null)
            b.RmsNormBackward(ws.DK, null, ws.DK, s.KRaw!, s.InverseRmsK!, e.KNorm, tokens * c.NumKvHeads, c.HeadDim);
        b.LinearBackward(ws.DNormed, dWeights.Wq, ws.DQ, s.Normed1, w.Wq, tokens, qd, d, accumulateParameters: acc);
        b.LinearBackward(ws.DNormed, dWeights.Wk, ws.DK, s.Normed1, w.Wk, tokens, kv, d,
            accumulateInput: true, accumulateParameters: acc);
        b.LinearBackward(ws.DNormed, dWeights.Wv, ws.DV, s.Normed1, w.Wv, tokens, kv, d,
            accumulateInput: true, accumulateParameters: acc);
        b.Copy(dx, ws.DH, td); // the residual path
        b.RmsNormBackward(dx, dWeights.AttnNorm, ws.DNormed, s.Input, s.InverseRms1, w.AttnNorm, tokens, d,
            accumulateInput: true, accumulateParameters: acc);
    }

    private static CpuBackend Cpu(IBackend backend) => backend as CpuBackend ?? throw new QuantNativeException(
        $"training block: the array overloads run on the CPU, but the activations are on {backend.Description}; " +
        "use the BackendBuffer overloads");

    private static void CheckTokens(int tokens, int capacity)
    {
        if (tokens < 1 || tokens > capacity)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens; the buffers hold 1..{capacity}");
    }

    private static void CheckRope(LlamaConfig c, Rope rope, int tokens)
    {
        if (rope.HeadDim != c.HeadDim || rope.MaxPositions < tokens)
            throw new ArgumentException($"RoPE table for head dim {rope.HeadDim} and {rope.MaxPositions} positions " +
                                        $"cannot serve head dim {c.HeadDim} and {tokens} tokens", nameof(rope));
    }
}
