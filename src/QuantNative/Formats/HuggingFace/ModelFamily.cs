namespace QuantNative.Formats.HuggingFace;

/// <summary>
/// One model_type qn loads, with what Transformers' config and attention classes of that family do when a field is
/// absent or set (read from Transformers 4.51's configuration_*.py and modeling_*.py):
/// <list type="bullet">
/// <item>llama: num_key_value_heads defaults to the heads; attention_bias gives q, k, v and o a bias; sliding_window is
///   not a llama field (LlamaAttention never reads it).</item>
/// <item>mistral: num_key_value_heads defaults to 8; sliding_window defaults to 4096 (null: plain causal) and applies
///   to every layer; no biases (MistralAttention has none, whatever attention_bias says).</item>
/// <item>qwen2: num_key_value_heads defaults to 32; q, k and v always carry a bias, o never; the sliding window only
///   with use_sliding_window (refused: qn does not implement the per-layer window).</item>
/// <item>qwen3: num_key_value_heads 32 and head_dim 128 by default; q_norm/k_norm on every layer; attention_bias gives
///   q, k, v and o a bias; use_sliding_window as qwen2.</item>
/// </list>
/// </summary>
internal sealed record ModelFamily(string ModelType, string Architecture, int? DefaultKvHeads, int? DefaultHeadDim,
    bool AlwaysQkvBias, bool HonoursAttentionBias, bool QkNorm, SlidingWindowRule Window)
{
    public static readonly ModelFamily[] All =
    [
        new("llama", "LlamaForCausalLM", null, null, false, true, false, SlidingWindowRule.NotAField),
        new("mistral", "MistralForCausalLM", 8, null, false, false, false, SlidingWindowRule.EveryLayer),
        new("qwen2", "Qwen2ForCausalLM", 32, null, true, false, false, SlidingWindowRule.UseSlidingWindowFlag),
        new("qwen3", "Qwen3ForCausalLM", 32, 128, false, true, true, SlidingWindowRule.UseSlidingWindowFlag),
    ];

    public static ModelFamily? Find(string modelType) => All.FirstOrDefault(f => f.ModelType == modelType);

    public static string Names => string.Join(", ", All.Select(f => $"\"{f.ModelType}\""));
}

/// <summary>How a family's config decides the sliding window.</summary>
internal enum SlidingWindowRule
{
    /// <summary>The family has no sliding window; the field, if present, is ignored as Transformers ignores it.</summary>
    NotAField,
    /// <summary>sliding_window (default 4096, null: none) applies to every layer.</summary>
    EveryLayer,
    /// <summary>Only with use_sliding_window true (from max_window_layers on): refused, not implemented.</summary>
    UseSlidingWindowFlag,
}
