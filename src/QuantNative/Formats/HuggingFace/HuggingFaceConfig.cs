using System.Text.Json;
using QuantNative.Model;

namespace QuantNative.Formats.HuggingFace;

/// <summary>Reads and writes the config.json of a Transformers LLaMA checkpoint.</summary>
public static class HuggingFaceConfig
{
    public const string FileName = "config.json";

    /// <summary>
    /// Parses <paramref name="path"/>. Required: model_type "llama", hidden_size, intermediate_size, num_hidden_layers,
    /// num_attention_heads, vocab_size, max_position_embeddings. Defaults as Transformers' LlamaConfig:
    /// num_key_value_heads = num_attention_heads, rms_norm_eps 1e-6, rope_theta 10000, tie_word_embeddings false.
    /// Features this loader does not implement (rope_scaling, biases, a head_dim other than hidden/heads) are refused
    /// rather than silently ignored.
    /// </summary>
    public static LlamaConfig Read(string path)
    {
        if (!File.Exists(path))
            throw new QuantNativeException($"{path}: not found");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new QuantNativeException($"{path}: not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new QuantNativeException($"{path}: expected a JSON object");

            if (!root.TryGetProperty("model_type", out var modelType))
                throw new QuantNativeException($"{path}: missing required field 'model_type' (expected \"llama\")");
            if (modelType.ValueKind != JsonValueKind.String || modelType.GetString() != "llama")
                throw new QuantNativeException(
                    $"{path}: model_type is {modelType.GetRawText()}, expected \"llama\" (only LLaMA-family checkpoints are supported)");

            int hidden = RequiredInt(root, "hidden_size", path);
            int heads = RequiredInt(root, "num_attention_heads", path);
            var config = new LlamaConfig(
                HiddenSize: hidden,
                IntermediateSize: RequiredInt(root, "intermediate_size", path),
                NumLayers: RequiredInt(root, "num_hidden_layers", path),
                NumHeads: heads,
                NumKvHeads: OptionalInt(root, "num_key_value_heads", path) ?? heads,
                VocabSize: RequiredInt(root, "vocab_size", path),
                MaxPositionEmbeddings: RequiredInt(root, "max_position_embeddings", path),
                RmsNormEps: OptionalFloat(root, "rms_norm_eps", path) ?? 1e-6f,
                RopeTheta: OptionalFloat(root, "rope_theta", path) ?? 10000f,
                TieWordEmbeddings: OptionalBool(root, "tie_word_embeddings", path) ?? false);

            RefuseUnsupported(root, config, path);
            config.Validate(path);
            return config;
        }
    }

    /// <summary>Writes a config.json Transformers loads as LlamaForCausalLM; <paramref name="extra"/> adds members
    /// (a quantized checkpoint's quantization_config).</summary>
    public static void Write(Stream stream, LlamaConfig config, FloatDType dtype, Action<Utf8JsonWriter>? extra = null)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartArray("architectures");
        json.WriteStringValue("LlamaForCausalLM");
        json.WriteEndArray();
        json.WriteString("model_type", "llama");
        json.WriteNumber("hidden_size", config.HiddenSize);
        json.WriteNumber("intermediate_size", config.IntermediateSize);
        json.WriteNumber("num_hidden_layers", config.NumLayers);
        json.WriteNumber("num_attention_heads", config.NumHeads);
        json.WriteNumber("num_key_value_heads", config.NumKvHeads);
        json.WriteNumber("head_dim", config.HeadDim);
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("max_position_embeddings", config.MaxPositionEmbeddings);
        // Through the float's shortest decimal, so 1e-5f is written as 1E-05 and not as 9.999999747378752E-06.
        json.WriteNumber("rms_norm_eps", ShortestDouble(config.RmsNormEps));
        json.WriteNumber("rope_theta", ShortestDouble(config.RopeTheta));
        json.WriteBoolean("tie_word_embeddings", config.TieWordEmbeddings);
        json.WriteString("hidden_act", "silu");
        json.WriteBoolean("attention_bias", false);
        json.WriteBoolean("mlp_bias", false);
        json.WriteNumber("bos_token_id", 1);
        json.WriteNumber("eos_token_id", 2);
        json.WriteString("torch_dtype", dtype.TorchName());
        extra?.Invoke(json);
        json.WriteEndObject();
    }

    private static double ShortestDouble(float value) =>
        double.Parse(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            System.Globalization.CultureInfo.InvariantCulture);

    private static void RefuseUnsupported(JsonElement root, LlamaConfig config, string path)
    {
        if (root.TryGetProperty("rope_scaling", out var scaling) && scaling.ValueKind != JsonValueKind.Null)
            throw new QuantNativeException(
                $"{path}: rope_scaling {scaling.GetRawText()} is not supported (only plain RoPE with rope_theta)");
        foreach (var bias in new[] { "attention_bias", "mlp_bias" })
            if (OptionalBool(root, bias, path) == true)
                throw new QuantNativeException($"{path}: {bias} = true is not supported (LLaMA linear layers have no bias)");
        if (OptionalInt(root, "head_dim", path) is int headDim && headDim != config.HiddenSize / config.NumHeads)
            throw new QuantNativeException(
                $"{path}: head_dim {headDim} differs from hidden_size/num_attention_heads = " +
                $"{config.HiddenSize / config.NumHeads}; such models are not supported");
        if (root.TryGetProperty("hidden_act", out var act) && act.ValueKind == JsonValueKind.String && act.GetString() != "silu")
            throw new QuantNativeException($"{path}: hidden_act \"{act.GetString()}\" is not supported (expected \"silu\")");
    }

    private static int RequiredInt(JsonElement root, string name, string path) =>
        OptionalInt(root, name, path) ?? throw new QuantNativeException($"{path}: missing required field '{name}'");

    private static int? OptionalInt(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v))
            throw new QuantNativeException($"{path}: field '{name}' must be an integer, got {e.GetRawText()}");
        return v;
    }

    private static float? OptionalFloat(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number)
            throw new QuantNativeException($"{path}: field '{name}' must be a number, got {e.GetRawText()}");
        return (float)e.GetDouble();
    }

    private static bool? OptionalBool(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw new QuantNativeException($"{path}: field '{name}' must be true or false, got {e.GetRawText()}");
        return e.GetBoolean();
    }
}
