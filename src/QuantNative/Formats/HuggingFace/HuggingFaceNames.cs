using QuantNative.Model;

namespace QuantNative.Formats.HuggingFace;

/// <summary>A tensor a Hugging Face LLaMA checkpoint must hold: its name and [out, in] shape.</summary>
public sealed record HuggingFaceTensor(string Name, long[] Shape);

/// <summary>The tensor names and shapes of Transformers' LlamaForCausalLM state dict.</summary>
public static class HuggingFaceNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string Output = "lm_head.weight";

    public static string Block(int layer, string part) => $"model.layers.{layer}.{part}.weight";

    /// <summary>The full name of a block extra (its part already ends in .bias or .weight).</summary>
    public static string Extra(int layer, string part) => $"model.layers.{layer}.{part}";

    // Each block's tensors in the order the writers emit them, with the LlamaBlockWeights member that holds them.
    internal static readonly (string Part, Func<LlamaBlockWeights, float[]> Get)[] BlockParts =
    [
        ("input_layernorm", b => b.AttnNorm),
        ("self_attn.q_proj", b => b.Wq),
        ("self_attn.k_proj", b => b.Wk),
        ("self_attn.v_proj", b => b.Wv),
        ("self_attn.o_proj", b => b.Wo),
        ("post_attention_layernorm", b => b.FfnNorm),
        ("mlp.gate_proj", b => b.WGate),
        ("mlp.up_proj", b => b.WUp),
        ("mlp.down_proj", b => b.WDown),
    ];

    internal static long[] BlockShape(LlamaConfig c, string part) => part switch
    {
        "input_layernorm" or "post_attention_layernorm" => [c.HiddenSize],
        "self_attn.q_proj" => [(long)c.NumHeads * c.HeadDim, c.HiddenSize],
        "self_attn.k_proj" or "self_attn.v_proj" => [c.KvDim, c.HiddenSize],
        "self_attn.o_proj" => [c.HiddenSize, (long)c.NumHeads * c.HeadDim],
        "mlp.gate_proj" or "mlp.up_proj" => [c.IntermediateSize, c.HiddenSize],
        "mlp.down_proj" => [c.HiddenSize, c.IntermediateSize],
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    /// <summary>Every tensor of a model with <paramref name="config"/>, in write order (lm_head only when untied).</summary>
    public static IReadOnlyList<HuggingFaceTensor> Expected(LlamaConfig config)
    {
        var list = new List<HuggingFaceTensor> { new(Embedding, [config.VocabSize, config.HiddenSize]) };
        for (int i = 0; i < config.NumLayers; i++)
        {
            foreach (var (part, _) in BlockParts)
                list.Add(new HuggingFaceTensor(Block(i, part), BlockShape(config, part)));
            foreach (var extra in BlockExtraParts.Of(config))
                list.Add(new HuggingFaceTensor(Extra(i, extra.Part), [extra.Length(config)]));
        }
        list.Add(new HuggingFaceTensor(FinalNorm, [config.HiddenSize]));
        if (!config.TieWordEmbeddings) list.Add(new HuggingFaceTensor(Output, [config.VocabSize, config.HiddenSize]));
        return list;
    }
}
