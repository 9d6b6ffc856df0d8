namespace QuantNative.Model;

/// <summary>
/// What a checkpoint says about itself beyond the maths: its model_type and Transformers class, the BOS/EOS ids its
/// generation uses, the dtype it was saved in, and the source's config.json as it was. Outputs carry it forward, so a
/// quantized Qwen2 is still a Qwen2ForCausalLM with Qwen's EOS, not a LLaMA with bos 1 / eos 2.
/// </summary>
public sealed record ModelIdentity(string ModelType, string Architecture, int? BosTokenId, IReadOnlyList<int> EosTokenIds)
{
    /// <summary>The llama2.c convention (and LLaMA 1/2's): bos 1, eos 2.</summary>
    public static readonly ModelIdentity Llama = new("llama", "LlamaForCausalLM", 1, [2]);

    /// <summary>config.json's torch_dtype (Transformers 5: dtype); null when the source had none.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>The source's config.json text, so that writers keep every field qn does not interpret; null for sources
    /// without one (llama2.c).</summary>
    public string? SourceConfigJson { get; init; }
}
