using QuantNative.Model;

namespace QuantNative.Benchmarks;

/// <summary>The architectures of real models by name, for synthetic checkpoints and benchmarks of real size.</summary>
public static class ModelShapes
{
    public static readonly IReadOnlyDictionary<string, LlamaConfig> All = new Dictionary<string, LlamaConfig>
    {
        // TinyLlama-1.1B (TinyLlama/TinyLlama-1.1B-Chat-v1.0's config.json).
        ["tinyllama-1.1b"] = new(2048, 5632, 22, 32, 4, 32000, 2048, 1e-5f, 10000f, false),
        // LLaMA-2-7B (meta-llama/Llama-2-7b-hf's config.json).
        ["llama2-7b"] = new(4096, 11008, 32, 32, 32, 32000, 4096, 1e-5f, 10000f, false),
    };

    public static LlamaConfig Get(string name, string option) =>
        All.TryGetValue(name.ToLowerInvariant(), out var c)
            ? c
            : throw new QuantNativeException($"{option} {name}: expected one of {string.Join(", ", All.Keys)}");
}
