namespace QuantNative.Model;

/// <summary>One linear layer of a LLaMA block: its Hugging Face name part, where its weights live, its shape
/// [out, in], and the block stage after which its input is complete.</summary>
public sealed record BlockLinear(string Part, Func<LlamaBlockWeights, float[]> Weights, Func<LlamaConfig, (int Rows, int Columns)> Shape,
    BlockStage Input);

/// <summary>The seven linear layers of a block, in GPTQ's true-sequential order, grouped by the input they share.</summary>
public static class BlockLinears
{
    /// <summary>The parts' Hugging Face names, for named access instead of positions.</summary>
    public const string Q = "self_attn.q_proj", K = "self_attn.k_proj", V = "self_attn.v_proj", O = "self_attn.o_proj",
        Gate = "mlp.gate_proj", Up = "mlp.up_proj", Down = "mlp.down_proj";

    public static readonly BlockLinear[] All =
    [
        new(Q, b => b.Wq, c => (c.NumHeads * c.HeadDim, c.HiddenSize), BlockStage.AttentionNorm),
        new(K, b => b.Wk, c => (c.KvDim, c.HiddenSize), BlockStage.AttentionNorm),
        new(V, b => b.Wv, c => (c.KvDim, c.HiddenSize), BlockStage.AttentionNorm),
        new(O, b => b.Wo, c => (c.HiddenSize, c.NumHeads * c.HeadDim), BlockStage.Attention),
        new(Gate, b => b.WGate, c => (c.IntermediateSize, c.HiddenSize), BlockStage.MlpNorm),
        new(Up, b => b.WUp, c => (c.IntermediateSize, c.HiddenSize), BlockStage.MlpNorm),
        new(Down, b => b.WDown, c => (c.HiddenSize, c.IntermediateSize), BlockStage.MlpActivation),
    ];

    /// <summary>The position of <paramref name="part"/> in <see cref="All"/>.</summary>
    public static int IndexOf(string part) => Array.FindIndex(All, l => l.Part == part) is var i and >= 0
        ? i
        : throw new ArgumentException($"no block linear named {part}", nameof(part));

    /// <summary>The layers grouped by shared input, in forward order (q/k/v, o, gate/up, down).</summary>
    public static IEnumerable<IGrouping<BlockStage, BlockLinear>> ByInput() => All.GroupBy(l => l.Input);

    /// <summary>The full tensor-name prefix, e.g. model.layers.3.self_attn.q_proj.</summary>
    public static string Name(int layer, BlockLinear linear) => $"model.layers.{layer}.{linear.Part}";
}
