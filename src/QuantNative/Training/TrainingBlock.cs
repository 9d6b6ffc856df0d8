using System.Numerics;
using QuantNative.Cpu;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// One LLaMA block (DESIGN.md §7.8) over one window of T tokens at positions 0..T−1, forward keeping what the
/// backward needs, and the hand-written backward: x → h = x + Wo·Attn(n1(x)) → y = h + W2·(silu(W1·n2(h)) ⊙ W3·n2(h)).
/// The weights are arguments, not state, so a caller can pass fake-quantized ones each step. Several windows: one
/// call per window (parameter gradients can accumulate across calls). Generic over float (the fast path: sgemm and
/// SIMD) and double (the reference for finite-difference tests); both run the same code.
/// </summary>
public static class TrainingBlock
{
    /// <summary>y [T, hidden] = block(x [T, hidden]); <paramref name="saved"/> receives what the backward needs.</summary>
    public static void Forward<T>(T[] y, BlockActivations<T> saved, T[] x, BlockTensors<T> w, LlamaConfig c,
        Rope rope, int tokens) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(c, rope, tokens, saved.Capacity);
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, td = tokens * d;
        var s = saved;
        s.Tokens = tokens;
        Array.Copy(x, s.Input, td);

        RmsNorm.Forward(s.Normed1, s.InverseRms1, s.Input, w.AttnNorm, tokens, d, c.RmsNormEps);
        Linear.Forward(s.Q, s.Normed1, w.Wq, tokens, d, d);
        Linear.Forward(s.K, s.Normed1, w.Wk, tokens, kv, d);
        Linear.Forward(s.V, s.Normed1, w.Wv, tokens, kv, d);
        rope.Forward(s.Q, tokens, c.NumHeads, 0);
        rope.Forward(s.K, tokens, c.NumKvHeads, 0);
        CausalAttention.Forward(s.Attention, s.LogSumExp, s.Q, s.K, s.V, tokens, 0, c.NumHeads, c.NumKvHeads, c.HeadDim);
        Array.Copy(s.Input, s.H, td);
        Linear.Forward(s.H, s.Attention, w.Wo, tokens, d, d, accumulate: true); // the residual, folded into the GEMM

        RmsNorm.Forward(s.Normed2, s.InverseRms2, s.H, w.FfnNorm, tokens, d, c.RmsNormEps);
        Linear.Forward(s.Gate, s.Normed2, w.WGate, tokens, f, d);
        Linear.Forward(s.Up, s.Normed2, w.WUp, tokens, f, d);
        SwiGlu.Forward(s.Mlp, s.Gate, s.Up, (long)tokens * f);
        Array.Copy(s.H, y, td);
        Linear.Forward(y, s.Mlp, w.WDown, tokens, d, f, accumulate: true);
    }

    /// <summary>
    /// From dy = dL/dy [T, hidden]: dx = dL/dx [T, hidden] and every parameter gradient in <paramref name="dWeights"/>
    /// (the seven linear layers and both norms), overwritten, or added to when <paramref name="accumulateParameters"/>
    /// (several windows per step). <paramref name="w"/> must be the weights the forward ran with. dx may alias dy.
    /// </summary>
    public static void Backward<T>(T[] dx, BlockTensors<T> dWeights, T[] dy, BlockActivations<T> saved,
        BlockTensors<T> w, LlamaConfig c, Rope rope, BlockGradientWorkspace<T> ws, bool accumulateParameters = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = saved;
        int tokens = s.Tokens;
        Check(c, rope, tokens, ws.Capacity);
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, td = tokens * d;
        bool acc = accumulateParameters;

        // y = h + W2·m, m = silu(a)⊙b, a = n2·W1ᵀ, b = n2·W3ᵀ.
        Linear.Backward(ws.DGate, dWeights.WDown, dy, s.Mlp, w.WDown, tokens, d, f, accumulateParameters: acc);
        SwiGlu.Backward(ws.DGate, ws.DUp, ws.DGate, s.Gate, s.Up, (long)tokens * f);
        Linear.Backward(ws.DNormed, dWeights.WGate, ws.DGate, s.Normed2, w.WGate, tokens, f, d, accumulateParameters: acc);
        Linear.Backward(ws.DNormed, dWeights.WUp, ws.DUp, s.Normed2, w.WUp, tokens, f, d,
            accumulateInput: true, accumulateParameters: acc);
        Array.Copy(dy, ws.DH, td); // the residual path
        RmsNorm.Backward(ws.DH, dWeights.FfnNorm, ws.DNormed, s.H, s.InverseRms2, w.FfnNorm, tokens, d,
            accumulateInput: true, accumulateParameters: acc);

        // h = x + Wo·attention(rope(n1·Wqᵀ), rope(n1·Wkᵀ), n1·Wvᵀ).
        Linear.Backward(ws.DAttention, dWeights.Wo, ws.DH, s.Attention, w.Wo, tokens, d, d, accumulateParameters: acc);
        CausalAttention.Backward(ws.DQ, ws.DK, ws.DV, ws.DAttention, s.Q, s.K, s.V, s.LogSumExp,
            tokens, c.NumHeads, c.NumKvHeads, c.HeadDim);
        rope.Backward(ws.DQ, tokens, c.NumHeads, 0);
        rope.Backward(ws.DK, tokens, c.NumKvHeads, 0);
        Linear.Backward(ws.DNormed, dWeights.Wq, ws.DQ, s.Normed1, w.Wq, tokens, d, d, accumulateParameters: acc);
        Linear.Backward(ws.DNormed, dWeights.Wk, ws.DK, s.Normed1, w.Wk, tokens, kv, d,
            accumulateInput: true, accumulateParameters: acc);
        Linear.Backward(ws.DNormed, dWeights.Wv, ws.DV, s.Normed1, w.Wv, tokens, kv, d,
            accumulateInput: true, accumulateParameters: acc);
        Array.Copy(ws.DH, dx, td); // the residual path
        RmsNorm.Backward(dx, dWeights.AttnNorm, ws.DNormed, s.Input, s.InverseRms1, w.AttnNorm, tokens, d,
            accumulateInput: true, accumulateParameters: acc);
    }

    private static void Check(LlamaConfig c, Rope rope, int tokens, int capacity)
    {
        if (tokens < 1 || tokens > capacity)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens; the buffers hold 1..{capacity}");
        if (rope.HeadDim != c.HeadDim || rope.MaxPositions < tokens)
            throw new ArgumentException($"RoPE table for head dim {rope.HeadDim} and {rope.MaxPositions} positions " +
                                        $"cannot serve head dim {c.HeadDim} and {tokens} tokens", nameof(rope));
    }
}
