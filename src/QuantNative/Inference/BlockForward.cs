using QuantNative.Cpu;
using QuantNative.Model;

namespace QuantNative.Inference;

/// <summary>
/// One LLaMA block for inference (DESIGN.md §7.8), in place on the residual stream x [T, hidden]:
/// h = x + Wo·Attn(n1(x)), y = h + W2·(silu(W1·n2(h)) ⊙ W3·n2(h)). New keys/values go into the cache at
/// rows firstPosition.. so the same code serves a whole sequence (firstPosition 0) and one decoded token.
/// Residual additions are folded into the output GEMMs (beta = 1).
/// </summary>
public static class BlockForward
{
    public static void Forward(float[] x, LlamaBlockWeights w, LlamaConfig c, Rope rope,
        float[] kCache, float[] vCache, int firstPosition, int tokens, BlockWorkspace ws)
    {
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize;
        var xs = x.AsSpan(0, tokens * d);

        RmsNorm.Forward(ws.Normed, x, w.AttnNorm, tokens, d, c.RmsNormEps);
        var normed = ws.Normed.AsSpan(0, tokens * d);
        Gemm.MatMulTransB(normed, w.Wq, ws.Q, tokens, d, d);
        Gemm.MatMulTransB(normed, w.Wk, ws.K, tokens, kv, d);
        Gemm.MatMulTransB(normed, w.Wv, ws.V, tokens, kv, d);
        rope.Forward(ws.Q, tokens, c.NumHeads, firstPosition);
        rope.Forward(ws.K, tokens, c.NumKvHeads, firstPosition);
        ws.K.AsSpan(0, tokens * kv).CopyTo(kCache.AsSpan(firstPosition * kv));
        ws.V.AsSpan(0, tokens * kv).CopyTo(vCache.AsSpan(firstPosition * kv));
        CausalAttention.Forward(ws.Attention, ws.Q, kCache, vCache, tokens, firstPosition,
            c.NumHeads, c.NumKvHeads, c.HeadDim);
        Gemm.MatMulTransB(ws.Attention.AsSpan(0, tokens * d), w.Wo, xs, tokens, d, d, accumulate: true);

        RmsNorm.Forward(ws.Normed, x, w.FfnNorm, tokens, d, c.RmsNormEps);
        Gemm.MatMulTransB(normed, w.WGate, ws.Gate, tokens, f, d);
        Gemm.MatMulTransB(normed, w.WUp, ws.Up, tokens, f, d);
        SwiGlu.Forward(ws.Gate, ws.Gate, ws.Up, (long)tokens * f);
        Gemm.MatMulTransB(ws.Gate.AsSpan(0, tokens * f), w.WDown, xs, tokens, d, f, accumulate: true);
    }
}
