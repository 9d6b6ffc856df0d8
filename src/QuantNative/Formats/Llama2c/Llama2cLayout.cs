using QuantNative.Model;

namespace QuantNative.Formats.Llama2c;

/// <summary>One float32 array of a llama2.c checkpoint: its llama2.c name, shape and byte offset in the file.</summary>
internal sealed record Llama2cArray(string Name, long[] Shape, long Offset)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Elements of one layer's slice of a per-layer array ([layers, ...]), or of the whole array.</summary>
    public long SliceElements(bool perLayer) => perLayer ? Elements / Shape[0] : Elements;
}

/// <summary>
/// The legacy llama2.c layout (see shared/models/stories260K/README.md): a header of seven int32 — dim, hidden_dim,
/// n_layers, n_heads, n_kv_heads, vocab_size, seq_len; vocab_size &lt; 0 means an untied classifier at the end — then
/// float32 arrays, per-layer ones stacked over layers. Computes every array's offset and the exact file size.
/// </summary>
internal sealed class Llama2cLayout
{
    public const int HeaderBytes = 7 * sizeof(int);

    // llama2.c's later exports start with this magic ("ak42") and a version; they lay tensors out differently.
    private const int VersionedExportMagic = 0x616b3432;

    public int Dim { get; }
    public int HiddenDim { get; }
    public int Layers { get; }
    public int Heads { get; }
    public int KvHeads { get; }
    public int Vocab { get; }
    public int SeqLen { get; }
    public bool SharedClassifier { get; }
    public int HeadSize => Dim / Heads;
    public int KvDim => KvHeads * HeadSize;

    public IReadOnlyList<Llama2cArray> Arrays { get; }
    public long FileBytes { get; }

    private Llama2cLayout(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocab, int seqLen, bool shared)
    {
        (Dim, HiddenDim, Layers, Heads, KvHeads, Vocab, SeqLen, SharedClassifier) =
            (dim, hiddenDim, layers, heads, kvHeads, vocab, seqLen, shared);
        long d = dim, f = hiddenDim, l = layers, kv = KvDim, v = vocab;
        var shapes = new List<(string, long[])>
        {
            ("token_embedding_table", [v, d]),
            ("rms_att_weight", [l, d]),
            ("wq", [l, d, d]),
            ("wk", [l, kv, d]),
            ("wv", [l, kv, d]),
            ("wo", [l, d, d]),
            ("rms_ffn_weight", [l, d]),
            ("w1", [l, f, d]),
            ("w2", [l, d, f]),
            ("w3", [l, f, d]),
            ("rms_final_weight", [d]),
            // Precomputed RoPE cos/sin of the original export; nothing reads them, but the size must match.
            ("freq_cis_real", [seqLen, HeadSize / 2]),
            ("freq_cis_imag", [seqLen, HeadSize / 2]),
        };
        if (!shared) shapes.Add(("wcls", [v, d]));

        var arrays = new List<Llama2cArray>();
        long offset = HeaderBytes;
        foreach (var (name, shape) in shapes)
        {
            arrays.Add(new Llama2cArray(name, shape, offset));
            offset = checked(offset + checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * sizeof(float)));
        }
        Arrays = arrays;
        FileBytes = offset;
    }

    public Llama2cArray this[string name] => Arrays.First(a => a.Name == name);

    public int[] HeaderValues() => [Dim, HiddenDim, Layers, Heads, KvHeads, SharedClassifier ? Vocab : -Vocab, SeqLen];

    public LlamaConfig ToConfig() => new(
        HiddenSize: Dim,
        IntermediateSize: HiddenDim,
        NumLayers: Layers,
        NumHeads: Heads,
        NumKvHeads: KvHeads,
        VocabSize: Vocab,
        MaxPositionEmbeddings: SeqLen,
        // llama2.c's run.c hard-codes both; the file has no field for them.
        RmsNormEps: 1e-5f,
        RopeTheta: 10000f,
        TieWordEmbeddings: SharedClassifier);

    /// <summary>Validates a header read from <paramref name="path"/>; the message names the file and every field.</summary>
    public static Llama2cLayout FromHeader(ReadOnlySpan<int> h, string path)
    {
        if (h[0] == VersionedExportMagic)
            throw new QuantNativeException(
                $"{path}: this is a versioned llama2.c export (magic 'ak42', version {h[1]}); only the legacy layout " +
                "(export.py --version 0) is supported");
        string fields = $"dim={h[0]}, hidden_dim={h[1]}, n_layers={h[2]}, n_heads={h[3]}, n_kv_heads={h[4]}, " +
                        $"vocab_size={h[5]}, seq_len={h[6]}";
        void Require(bool ok, string what)
        {
            if (!ok) throw new QuantNativeException($"{path}: not a valid llama2.c checkpoint header ({fields}): {what}");
        }
        Require(h[0] > 0 && h[1] > 0 && h[2] > 0 && h[3] > 0 && h[4] > 0 && h[6] > 0,
            "dim, hidden_dim, n_layers, n_heads, n_kv_heads and seq_len must be positive");
        Require(h[5] != 0 && h[5] != int.MinValue, "vocab_size must be non-zero");
        Require(h[0] % h[3] == 0, "dim must be a multiple of n_heads");
        Require(h[3] % h[4] == 0, "n_heads must be a multiple of n_kv_heads");
        Require(h[0] / h[3] % 2 == 0, "the head size dim/n_heads must be even for RoPE");
        try
        {
            return new Llama2cLayout(h[0], h[1], h[2], h[3], h[4], Math.Abs(h[5]), h[6], shared: h[5] > 0);
        }
        catch (OverflowException)
        {
            Require(false, "the sizes it implies overflow a 64-bit file offset");
            throw; // unreachable: Require threw
        }
    }

    /// <summary>
    /// The layout that stores <paramref name="config"/>. The format cannot record rms_norm_eps or rope_theta (readers
    /// assume 1e-5 and 10000), so another value is refused unless <paramref name="allowConfigLoss"/>.
    /// </summary>
    public static Llama2cLayout FromConfig(LlamaConfig config, string path, bool allowConfigLoss)
    {
        config.Validate(path);
        if (!allowConfigLoss && (config.RmsNormEps != 1e-5f || config.RopeTheta != 10000f))
            throw new QuantNativeException(
                $"{path}: llama2.c checkpoints cannot store rms_norm_eps={config.RmsNormEps} or rope_theta={config.RopeTheta} " +
                "(readers assume 1e-5 and 10000); the exported model would compute something else");
        try
        {
            return new Llama2cLayout(config.HiddenSize, config.IntermediateSize, config.NumLayers, config.NumHeads,
                config.NumKvHeads, config.VocabSize, config.MaxPositionEmbeddings, config.TieWordEmbeddings);
        }
        catch (OverflowException)
        {
            throw new QuantNativeException($"{path}: the model is too large for a 64-bit file offset");
        }
    }
}
