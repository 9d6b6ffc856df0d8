using QuantNative.Model;

namespace QuantNative.Formats.Gguf;

/// <summary>
/// How a LLaMA-family model is laid out for llama.cpp (its convert_hf_to_gguf.py and llama-arch.cpp): the
/// general.architecture (llama for llama and mistral, qwen2, qwen3), the hyper-parameter keys, the tensor names, and
/// the q/k row permutation of the llama architecture, whose rope rotates adjacent pairs (LLAMA_ROPE_TYPE_NORM) where
/// Hugging Face's rotates halves; qwen2 and qwen3 use the NEOX rope, which is rotate-half, so their rows stay as they
/// are. Mistral's sliding window is written (attention.sliding_window) but llama.cpp's llama architecture does not
/// apply it: it attends every earlier token, so a Mistral GGUF equals the source only up to the window's length.
/// </summary>
public static class GgufArchitecture
{
    /// <summary>qn's own keys: what llama.cpp's keys cannot say and qn needs to read its files back as the source was.</summary>
    public const string QnModelType = "qn.model_type", QnArchitecture = "qn.architecture_class",
        QnRopeFactor = "qn.rope.llama3.factor", QnRopeLow = "qn.rope.llama3.low_freq_factor",
        QnRopeHigh = "qn.rope.llama3.high_freq_factor", QnRopeOriginal = "qn.rope.llama3.original_context_length",
        QnMethod = "qn.method";

    public const string RopeFreqs = "rope_freqs.weight";

    /// <summary>general.architecture for a model_type; null for one llama.cpp has no architecture for here.</summary>
    public static string For(LlamaConfig c) => c.Identity.ModelType switch
    {
        "llama" or "mistral" => "llama",
        "qwen2" => "qwen2",
        "qwen3" => "qwen3",
        var t => throw new QuantNativeException($"model_type {t}: no GGUF architecture for it (llama, mistral, qwen2, qwen3 are written)"),
    };

    /// <summary>Whether the rows of q/k (and their biases) are permuted to adjacent pairs, as convert_hf_to_gguf's
    /// LlamaModel.permute does.</summary>
    public static bool PermutesQk(string arch) => arch == "llama";

    /// <summary>What llama.cpp would not run as qn does: refused by name before anything is written.</summary>
    public static void Check(LlamaConfig c, string source)
    {
        string arch = For(c);
        if (arch == "qwen3" && (c.AttentionBias || c.OutputBias))
            throw new QuantNativeException($"{source}: qwen3 with attention_bias: llama.cpp's qwen3 architecture loads no attention biases; not exported");
        if (arch == "qwen2" && c.OutputBias)
            throw new QuantNativeException($"{source}: qwen2 with an o_proj bias: llama.cpp's qwen2 architecture has none; not exported");
        if (arch == "llama" && c.QkNorm)
            throw new QuantNativeException($"{source}: q/k norms on a llama architecture are not run by llama.cpp; not exported");
    }

    public static List<KeyValuePair<string, GgufValue>> HyperParameters(LlamaConfig c)
    {
        string a = For(c);
        var kv = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue v) => kv.Add(new(key, v));
        Add($"{a}.context_length", GgufValue.Of((uint)c.MaxPositionEmbeddings));
        Add($"{a}.embedding_length", GgufValue.Of((uint)c.HiddenSize));
        Add($"{a}.block_count", GgufValue.Of((uint)c.NumLayers));
        Add($"{a}.feed_forward_length", GgufValue.Of((uint)c.IntermediateSize));
        Add($"{a}.attention.head_count", GgufValue.Of((uint)c.NumHeads));
        Add($"{a}.attention.head_count_kv", GgufValue.Of((uint)c.NumKvHeads));
        Add($"{a}.attention.key_length", GgufValue.Of((uint)c.HeadDim));
        Add($"{a}.attention.value_length", GgufValue.Of((uint)c.HeadDim));
        Add($"{a}.rope.dimension_count", GgufValue.Of((uint)c.HeadDim));
        Add($"{a}.attention.layer_norm_rms_epsilon", GgufValue.Of(c.RmsNormEps));
        Add($"{a}.rope.freq_base", GgufValue.Of(c.RopeTheta));
        Add($"{a}.vocab_size", GgufValue.Of((uint)c.VocabSize));
        if (c.SlidingWindow > 0) Add($"{a}.attention.sliding_window", GgufValue.Of((uint)c.SlidingWindow));
        var s = c.RopeScaling;
        if (s.Type == RopeType.Linear)
        {
            Add($"{a}.rope.scaling.type", GgufValue.Of("linear"));
            Add($"{a}.rope.scaling.factor", GgufValue.Of((float)s.Factor));
        }
        if (s.Type == RopeType.Llama3)
        {
            // llama.cpp takes llama3 scaling as the rope_freqs tensor alone; qn keeps the four numbers too.
            Add(QnRopeFactor, GgufValue.Of((float)s.Factor));
            Add(QnRopeLow, GgufValue.Of((float)s.LowFreqFactor));
            Add(QnRopeHigh, GgufValue.Of((float)s.HighFreqFactor));
            Add(QnRopeOriginal, GgufValue.Of((uint)s.OriginalMaxPositions));
        }
        Add(QnModelType, GgufValue.Of(c.Identity.ModelType));
        Add(QnArchitecture, GgufValue.Of(c.Identity.Architecture));
        return kv;
    }

    /// <summary>rope_freqs.weight for llama3 scaling: per frequency the divisor llama.cpp applies (ggml_rope_ext's
    /// freq_factors), base/scaled, as convert_hf_to_gguf computes it.</summary>
    public static float[] RopeFrequencyFactors(LlamaConfig c)
    {
        var basis = RopeScaling.None.InverseFrequencies(c.HeadDim, c.RopeTheta);
        var scaled = c.RopeScaling.InverseFrequencies(c.HeadDim, c.RopeTheta);
        return basis.Select((b, i) => (float)(b / scaled[i])).ToArray();
    }

    // ---------------- names (llama-arch.cpp's LLM_TENSOR_NAMES)

    public const string TokenEmbedding = "token_embd.weight", OutputNorm = "output_norm.weight", Output = "output.weight";

    public static string Linear(int layer, string part) => $"blk.{layer}.{LinearName(part)}.weight";

    public static string LinearName(string part) => part switch
    {
        BlockLinears.Q => "attn_q", BlockLinears.K => "attn_k", BlockLinears.V => "attn_v", BlockLinears.O => "attn_output",
        BlockLinears.Gate => "ffn_gate", BlockLinears.Up => "ffn_up", BlockLinears.Down => "ffn_down",
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    public static string AttnNorm(int layer) => $"blk.{layer}.attn_norm.weight";
    public static string FfnNorm(int layer) => $"blk.{layer}.ffn_norm.weight";

    public static string Extra(int layer, string part) => part switch
    {
        BlockExtraParts.QBias => $"blk.{layer}.attn_q.bias",
        BlockExtraParts.KBias => $"blk.{layer}.attn_k.bias",
        BlockExtraParts.VBias => $"blk.{layer}.attn_v.bias",
        BlockExtraParts.OBias => $"blk.{layer}.attn_output.bias",
        BlockExtraParts.QNorm => $"blk.{layer}.attn_q_norm.weight",
        BlockExtraParts.KNorm => $"blk.{layer}.attn_k_norm.weight",
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    /// <summary>Rows of q (heads) or k (kv heads), and of their biases, in llama.cpp's order for the architecture.</summary>
    public static float[] ToGgufRows(string arch, string part, float[] values, LlamaConfig c, int columns) =>
        PermutedHeads(arch, part, c) is int heads and > 0
            ? RopeLayout.RotateHalfToAdjacentPairs(values, heads, c.HeadDim, columns) : values;

    /// <summary>The inverse of <see cref="ToGgufRows"/>: back to qn's rotate-half layout.</summary>
    public static float[] FromGgufRows(string arch, string part, float[] values, LlamaConfig c, int columns) =>
        PermutedHeads(arch, part, c) is int heads and > 0
            ? RopeLayout.AdjacentPairsToRotateHalf(values, heads, c.HeadDim, columns) : values;

    /// <summary>The heads whose rows convert_hf_to_gguf permutes for this tensor (q: heads, k: kv heads), 0 for none.</summary>
    private static int PermutedHeads(string arch, string part, LlamaConfig c) =>
        !PermutesQk(arch) ? 0
        : part is BlockLinears.Q or BlockExtraParts.QBias ? c.NumHeads
        : part is BlockLinears.K or BlockExtraParts.KBias ? c.NumKvHeads : 0;
}
