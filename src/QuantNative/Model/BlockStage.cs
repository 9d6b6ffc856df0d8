namespace QuantNative.Model;

/// <summary>
/// Where the CPU block forward (Cpu.BlockForward.RunStages) stops: each stage ends where the input of the next linear layers is
/// complete (GPTQ's true-sequential order: q/k/v, then o, then gate/up, then down).
/// </summary>
public enum BlockStage
{
    /// <summary>ws.Normed = n1(x): the input of q, k and v.</summary>
    AttentionNorm,

    /// <summary>ws.Attention = Attn(q, k, v): the input of o.</summary>
    Attention,

    /// <summary>x = h = x + Wo·Attn, ws.Normed = n2(h): the input of gate and up.</summary>
    MlpNorm,

    /// <summary>ws.Gate = silu(gate) ⊙ up: the input of down.</summary>
    MlpActivation,

    /// <summary>x = the block's output.</summary>
    DownProjection,
}
