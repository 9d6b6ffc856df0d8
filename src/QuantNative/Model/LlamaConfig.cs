namespace QuantNative.Model;

/// <summary>
/// The architecture of a LLaMA-family model, in the terms of Hugging Face's config.json.
/// Internally every model uses Hugging Face's rotate-half RoPE layout for wq and wk (see DESIGN.md §5).
/// </summary>
public sealed record LlamaConfig(
    int HiddenSize,
    int IntermediateSize,
    int NumLayers,
    int NumHeads,
    int NumKvHeads,
    int VocabSize,
    int MaxPositionEmbeddings,
    float RmsNormEps,
    float RopeTheta,
    bool TieWordEmbeddings)
{
    public int HeadDim => HiddenSize / NumHeads;
    public int KvDim => NumKvHeads * HeadDim;

    /// <summary>Number of weights: embeddings, every block, final norm and (when untied) the output matrix.</summary>
    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, f = IntermediateSize, kv = KvDim;
            long block = 2 * d + d * d + 2 * kv * d + d * d + 3 * d * f;
            return VocabSize * d + NumLayers * block + d + (TieWordEmbeddings ? 0 : VocabSize * d);
        }
    }

    /// <summary>Throws a <see cref="QuantNativeException"/> naming <paramref name="source"/> when a field is impossible.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new QuantNativeException($"{source}: invalid model configuration: {what}");
        }
        Require(HiddenSize > 0, $"hidden_size must be positive (got {HiddenSize})");
        Require(IntermediateSize > 0, $"intermediate_size must be positive (got {IntermediateSize})");
        Require(NumLayers > 0, $"num_hidden_layers must be positive (got {NumLayers})");
        Require(NumHeads > 0, $"num_attention_heads must be positive (got {NumHeads})");
        Require(NumKvHeads > 0, $"num_key_value_heads must be positive (got {NumKvHeads})");
        Require(VocabSize > 0, $"vocab_size must be positive (got {VocabSize})");
        Require(MaxPositionEmbeddings > 0, $"max_position_embeddings must be positive (got {MaxPositionEmbeddings})");
        Require(HiddenSize % NumHeads == 0, $"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumHeads}");
        Require(HeadDim % 2 == 0, $"head dimension {HeadDim} must be even for RoPE");
        Require(NumHeads % NumKvHeads == 0, $"num_attention_heads {NumHeads} is not a multiple of num_key_value_heads {NumKvHeads}");
        Require(RmsNormEps > 0 && float.IsFinite(RmsNormEps), $"rms_norm_eps must be positive (got {RmsNormEps})");
        Require(RopeTheta > 0 && float.IsFinite(RopeTheta), $"rope_theta must be positive (got {RopeTheta})");
    }
}
