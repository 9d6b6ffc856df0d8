using QuantNative.Cpu.Weights;
using QuantNative.Model;

namespace QuantNative.Cpu;

/// <summary>
/// One LLaMA block for inference (DESIGN.md §7.8), in place on the residual stream x [T, hidden]:
/// h = x + Wo·Attn(n1(x)), y = h + W2·(silu(W1·n2(h)) ⊙ W3·n2(h)), with the additions of today's families where the
/// block has them (<see cref="BlockExtras{TTensor}"/>): q/k/v (and o) biases after their linears, Qwen3's RMSNorm of
/// each q and k head before RoPE, and Mistral's sliding window in the attention. New keys/values go into the cache at
/// rows firstPosition.. so the same code serves a whole sequence (firstPosition 0) and one decoded token.
/// Residual additions are folded into the output GEMMs (beta = 1). The block's linears are whatever the model holds
/// (<see cref="IInferenceBlock"/>: fp32 arrays, mapped BF16, packed low-bit codes), each multiplying in its own form.
/// (The device runs the same block in Inference/Device/DeviceInferenceSession.cs.)
/// <para>
/// The block is also available as its six stages, in order, so that sequential quantization can stop after any of
/// them and read the input of the next linear layers from the workspace (<see cref="BlockStage"/>): the stages are
/// the forward, not a copy of it.
/// </para>
/// </summary>
public static class BlockForward
{
    public static void Forward(float[] x, LlamaBlockWeights w, LlamaConfig c, Rope rope,
        float[] kCache, float[] vCache, int firstPosition, int tokens, BlockWorkspace ws)
    {
        RunStages(BlockStage.DownProjection, x, new ArrayBlock(w, c), c, rope, kCache, vCache, firstPosition, tokens, ws);
    }

    /// <summary>The block of any weights form; see <see cref="Forward(float[], LlamaBlockWeights, LlamaConfig, Rope,
    /// float[], float[], int, int, BlockWorkspace)"/>.</summary>
    public static void Forward(float[] x, IInferenceBlock w, LlamaConfig c, Rope rope,
        float[] kCache, float[] vCache, int firstPosition, int tokens, BlockWorkspace ws)
    {
        RunStages(BlockStage.DownProjection, x, w, c, rope, kCache, vCache, firstPosition, tokens, ws);
    }

    /// <summary>
    /// Runs the block's stages up to and including <paramref name="last"/>. After <see cref="BlockStage.AttentionNorm"/>
    /// ws.Normed holds q/k/v's input; after <see cref="BlockStage.Attention"/> ws.Attention holds o's input; after
    /// <see cref="BlockStage.MlpNorm"/> ws.Normed holds gate/up's input; after <see cref="BlockStage.MlpActivation"/>
    /// ws.Gate holds down's input; after <see cref="BlockStage.DownProjection"/> x is the block's output.
    /// </summary>
    public static void RunStages(BlockStage last, float[] x, LlamaBlockWeights w, LlamaConfig c, Rope rope,
        float[] kCache, float[] vCache, int firstPosition, int tokens, BlockWorkspace ws)
        => RunStages(last, x, new ArrayBlock(w, c), c, rope, kCache, vCache, firstPosition, tokens, ws);

    public static void RunStages(BlockStage last, float[] x, IInferenceBlock w, LlamaConfig c, Rope rope,
        float[] kCache, float[] vCache, int firstPosition, int tokens, BlockWorkspace ws)
    {
        void Linear(string part, ReadOnlySpan<float> input, Span<float> output, bool accumulate = false) =>
            w.Linear(part).Forward(input, output, tokens, accumulate);

        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, qd = c.QDim;
        var extras = w.Extras;
        var xs = x.AsSpan(0, tokens * d);
        var normed = ws.Normed.AsSpan(0, tokens * d);

        RmsNorm.Forward(ws.Normed, x, w.AttnNorm, tokens, d, c.RmsNormEps);
        if (last == BlockStage.AttentionNorm) return;

        SharedInputLinears.Forward(normed, tokens, w.Linear(BlockLinears.Q), ws.Q, w.Linear(BlockLinears.K), ws.K,
            w.Linear(BlockLinears.V), ws.V);
        AddBias(ws.Q, extras.QBias, tokens);
        AddBias(ws.K, extras.KBias, tokens);
        AddBias(ws.V, extras.VBias, tokens);
        if (extras.QNorm != null) RmsNorm.Forward(ws.Q, ws.Q, extras.QNorm, tokens * c.NumHeads, c.HeadDim, c.RmsNormEps);
        if (extras.KNorm != null) RmsNorm.Forward(ws.K, ws.K, extras.KNorm, tokens * c.NumKvHeads, c.HeadDim, c.RmsNormEps);
        rope.Forward(ws.Q, tokens, c.NumHeads, firstPosition);
        rope.Forward(ws.K, tokens, c.NumKvHeads, firstPosition);
        ws.K.AsSpan(0, tokens * kv).CopyTo(kCache.AsSpan(firstPosition * kv));
        ws.V.AsSpan(0, tokens * kv).CopyTo(vCache.AsSpan(firstPosition * kv));
        CausalAttention.Forward(ws.Attention, ws.Q, kCache, vCache, tokens, firstPosition,
            c.NumHeads, c.NumKvHeads, c.HeadDim, c.SlidingWindow);
        if (last == BlockStage.Attention) return;

        Linear(BlockLinears.O, ws.Attention.AsSpan(0, tokens * qd), xs, accumulate: true);
        AddBias(x, extras.OBias, tokens);
        RmsNorm.Forward(ws.Normed, x, w.FfnNorm, tokens, d, c.RmsNormEps);
        if (last == BlockStage.MlpNorm) return;

        SharedInputLinears.Forward(normed, tokens, w.Linear(BlockLinears.Gate), ws.Gate, w.Linear(BlockLinears.Up), ws.Up);
        SwiGlu.Forward(ws.Gate, ws.Gate, ws.Up, (long)tokens * f);
        if (last == BlockStage.MlpActivation) return;

        Linear(BlockLinears.Down, ws.Gate.AsSpan(0, tokens * f), xs, accumulate: true);
    }

    /// <summary>y[r, :] += bias for the first <paramref name="rows"/> rows; nothing when the block has no such bias.</summary>
    private static void AddBias(float[] y, float[]? bias, int rows)
    {
        if (bias != null) Cpu.Linear.AddBias(y, bias, rows, bias.Length);
    }
}
