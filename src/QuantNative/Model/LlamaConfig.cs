namespace QuantNative.Model;

/// <summary>
/// The architecture of a LLaMA-family model, in the terms of Hugging Face's config.json.
/// Internally every model uses Hugging Face's rotate-half RoPE layout for wq and wk (see DESIGN.md §5). The positional
/// fields are those of every family; the init-only ones carry what today's families add (Llama 3's RoPE scaling,
/// Qwen2's biases, Qwen3's head_dim and q/k norms, Mistral's sliding window) and default to plain LLaMA.
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
    /// <summary>Width of one attention head: config.json's head_dim, hidden/heads when it has none.</summary>
    public int HeadDim { get; init; } = NumHeads > 0 ? HiddenSize / NumHeads : 0;

    /// <summary>q_proj's output width, heads·headDim (≠ hidden for Qwen3).</summary>
    public int QDim => NumHeads * HeadDim;
    public int KvDim => NumKvHeads * HeadDim;

    /// <summary>q/k/v carry a bias (Qwen2, attention_bias).</summary>
    public bool AttentionBias { get; init; }

    /// <summary>o_proj carries a bias (attention_bias of a llama or qwen3 config; Qwen2 has none).</summary>
    public bool OutputBias { get; init; }

    /// <summary>RMSNorm over head_dim on each head of q and k before RoPE (Qwen3).</summary>
    public bool QkNorm { get; init; }

    /// <summary>A query attends only the last SlidingWindow keys, itself included (Mistral); 0: plain causal.</summary>
    public int SlidingWindow { get; init; }

    public RopeScaling RopeScaling { get; init; } = RopeScaling.None;
    public RopeParameters Rope => new(RopeTheta, RopeScaling);

    /// <summary>Who the model says it is (model_type, class, bos/eos, dtype, the source's config.json), written back
    /// into every output.</summary>
    public ModelIdentity Identity { get; init; } = ModelIdentity.Llama;

    /// <summary>Number of weights: embeddings, every block, final norm and (when untied) the output matrix.</summary>
    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, f = IntermediateSize, kv = KvDim, q = QDim;
            long block = 2 * d + q * d + 2 * kv * d + d * q + 3 * d * f + BlockExtraParts.Of(this).Sum(p => p.Length(this));
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
        Require(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim must be positive and even for RoPE (got {HeadDim})");
        Require(NumHeads % NumKvHeads == 0, $"num_attention_heads {NumHeads} is not a multiple of num_key_value_heads {NumKvHeads}");
        // q's and k/v's rows: a product beyond int would wrap and could pass a shape check by accident (fuzzing found a
        // GGUF with 1,073,741,828 heads of 8 whose q rows "were" 32).
        Require((long)NumHeads * HeadDim <= int.MaxValue,
            $"num_attention_heads × head_dim = {NumHeads} × {HeadDim} is more rows than a tensor can have");
        Require((long)NumKvHeads * HeadDim <= int.MaxValue,
            $"num_key_value_heads × head_dim = {NumKvHeads} × {HeadDim} is more rows than a tensor can have");
        Require(RmsNormEps > 0 && float.IsFinite(RmsNormEps), $"rms_norm_eps must be positive (got {RmsNormEps})");
        Require(RopeTheta > 0 && float.IsFinite(RopeTheta), $"rope_theta must be positive (got {RopeTheta})");
        Require(SlidingWindow >= 0, $"sliding_window must be positive or null (got {SlidingWindow})");
    }
}
