using QuantNative.Inference;
using QuantNative.Model;

namespace QuantNative.Model;

/// <summary>One linear layer of a LLaMA block: its Hugging Face name part, where its weights live, its shape
/// [out, in], and the block stage after which its input is complete.</summary>
public sealed record BlockLinear(string Part, Func<LlamaBlockWeights, float[]> Weights, Func<LlamaConfig, (int Rows, int Columns)> Shape,
    BlockStage Input);

/// <summary>The seven linear layers of a block, in GPTQ's true-sequential order, grouped by the input they share.</summary>
public static class BlockLinears
{
    public static readonly BlockLinear[] All =
    [
        new("self_attn.q_proj", b => b.Wq, c => (c.NumHeads * c.HeadDim, c.HiddenSize), BlockStage.AttentionNorm),
        new("self_attn.k_proj", b => b.Wk, c => (c.KvDim, c.HiddenSize), BlockStage.AttentionNorm),
        new("self_attn.v_proj", b => b.Wv, c => (c.KvDim, c.HiddenSize), BlockStage.AttentionNorm),
        new("self_attn.o_proj", b => b.Wo, c => (c.HiddenSize, c.NumHeads * c.HeadDim), BlockStage.Attention),
        new("mlp.gate_proj", b => b.WGate, c => (c.IntermediateSize, c.HiddenSize), BlockStage.MlpNorm),
        new("mlp.up_proj", b => b.WUp, c => (c.IntermediateSize, c.HiddenSize), BlockStage.MlpNorm),
        new("mlp.down_proj", b => b.WDown, c => (c.HiddenSize, c.IntermediateSize), BlockStage.MlpActivation),
    ];

    /// <summary>The layers grouped by shared input, in forward order (q/k/v, o, gate/up, down).</summary>
    public static IEnumerable<IGrouping<BlockStage, BlockLinear>> ByInput() => All.GroupBy(l => l.Input);

    /// <summary>The full tensor-name prefix, e.g. model.layers.3.self_attn.q_proj.</summary>
    public static string Name(int layer, BlockLinear linear) => $"model.layers.{layer}.{linear.Part}";
}
