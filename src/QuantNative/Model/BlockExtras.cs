namespace QuantNative.Model;

/// <summary>
/// The tensors of a block that some architectures add around attention and that no method quantizes or learns:
/// q/k/v biases (Qwen2, or attention_bias in a llama or qwen3 config, which also gives o_proj one) and Qwen3's
/// q_norm/k_norm (RMSNorm weights over head_dim, applied to each head of q and k before RoPE). Each is null when the
/// architecture has none. Generic over how a tensor is held (fp32 arrays for inference, T[] for training, backend
/// buffers), so every path carries the same six with the same names.
/// </summary>
public sealed record BlockExtras<TTensor> where TTensor : class
{
    public static readonly BlockExtras<TTensor> Empty = new();

    public TTensor? QBias { get; init; }   // [heads·headDim]
    public TTensor? KBias { get; init; }   // [kvHeads·headDim]
    public TTensor? VBias { get; init; }   // [kvHeads·headDim]
    public TTensor? OBias { get; init; }   // [hidden]
    public TTensor? QNorm { get; init; }   // [headDim]
    public TTensor? KNorm { get; init; }   // [headDim]

    /// <summary>The same tensors converted one by one (nulls stay null).</summary>
    public BlockExtras<TOut> Map<TOut>(Func<TTensor, TOut> f) where TOut : class => new()
    {
        QBias = QBias == null ? null : f(QBias), KBias = KBias == null ? null : f(KBias),
        VBias = VBias == null ? null : f(VBias), OBias = OBias == null ? null : f(OBias),
        QNorm = QNorm == null ? null : f(QNorm), KNorm = KNorm == null ? null : f(KNorm),
    };

    /// <summary>The tensors present, with their part names (<see cref="BlockExtraParts"/>).</summary>
    public IEnumerable<(string Part, TTensor Tensor)> Present() =>
        BlockExtraParts.All.Select(p => (p.Part, p.Get(this))).Where(p => p.Item2 != null)!;
}

/// <summary>The extra tensors by Hugging Face part name (under model.layers.N.), their shapes, and when an
/// architecture has them.</summary>
public static class BlockExtraParts
{
    public sealed record PartSpec(string Part, Func<LlamaConfig, bool> Present, Func<LlamaConfig, long> Length)
    {
        public TTensor? Get<TTensor>(BlockExtras<TTensor> e) where TTensor : class => Part switch
        {
            QBias => e.QBias, KBias => e.KBias, VBias => e.VBias, OBias => e.OBias, QNorm => e.QNorm, _ => e.KNorm,
        };
    }

    public const string QBias = "self_attn.q_proj.bias", KBias = "self_attn.k_proj.bias", VBias = "self_attn.v_proj.bias",
        OBias = "self_attn.o_proj.bias", QNorm = "self_attn.q_norm.weight", KNorm = "self_attn.k_norm.weight";

    public static readonly PartSpec[] All =
    [
        new(QBias, c => c.AttentionBias, c => c.QDim),
        new(KBias, c => c.AttentionBias, c => c.KvDim),
        new(VBias, c => c.AttentionBias, c => c.KvDim),
        new(OBias, c => c.OutputBias, c => c.HiddenSize),
        new(QNorm, c => c.QkNorm, c => c.HeadDim),
        new(KNorm, c => c.QkNorm, c => c.HeadDim),
    ];

    /// <summary>The parts <paramref name="c"/>'s architecture has.</summary>
    public static IEnumerable<PartSpec> Of(LlamaConfig c) => All.Where(p => p.Present(c));

    /// <summary>Extras built from a loader of each part the architecture has.</summary>
    public static BlockExtras<TTensor> Load<TTensor>(LlamaConfig c, Func<PartSpec, TTensor> load) where TTensor : class
    {
        TTensor? L(string part) => All.First(p => p.Part == part) is var spec && spec.Present(c) ? load(spec) : null;
        return new BlockExtras<TTensor>
        {
            QBias = L(QBias), KBias = L(KBias), VBias = L(VBias), OBias = L(OBias), QNorm = L(QNorm), KNorm = L(KNorm),
        };
    }
}
