using System.Globalization;
using System.Text;
using System.Text.Json;
using QuantNative.Model;

namespace QuantNative.Formats.HuggingFace;

/// <summary>Reads and writes the config.json of a Transformers checkpoint of a LLaMA-family model.</summary>
public static class HuggingFaceConfig
{
    public const string FileName = "config.json";

    /// <summary>
    /// Parses <paramref name="path"/>. model_type must be one of <see cref="ModelFamily.All"/>; hidden_size,
    /// intermediate_size, num_hidden_layers, num_attention_heads, vocab_size and max_position_embeddings are required;
    /// the rest default as that family's Transformers config does (<see cref="ModelFamily"/>; rms_norm_eps 1e-6,
    /// rope_theta 10000, untied). RoPE comes from rope_theta + rope_scaling or Transformers 5's rope_parameters. A
    /// field that changes the maths and is not implemented is refused by name (<see cref="RefuseUnsupported"/>).
    /// </summary>
    public static LlamaConfig Read(string path)
    {
        if (!File.Exists(path))
            throw new QuantNativeException($"{path}: not found");
        byte[] bytes = InputFile.ReadAll(path, "config.json");
        using (var doc = JsonInput.Parse(bytes, path))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new QuantNativeException($"{path}: expected a JSON object");
            var config = Parse(new JsonFields(doc.RootElement, path), Encoding.UTF8.GetString(bytes));
            config.Validate(path);
            return config;
        }
    }

    private static LlamaConfig Parse(JsonFields f, string sourceJson)
    {
        string path = f.Path;
        string modelType = f.OptionalString("model_type")
                           ?? throw new QuantNativeException($"{path}: missing required field 'model_type' (expected one of {ModelFamily.Names})");
        var family = ModelFamily.Find(modelType) ?? throw new QuantNativeException(
            $"{path}: model_type \"{modelType}\" is not supported (qn loads {ModelFamily.Names})");
        RefuseUnsupported(f, family);

        int hidden = f.RequiredInt("hidden_size"), heads = f.RequiredInt("num_attention_heads");
        bool attentionBias = family.HonoursAttentionBias && f.OptionalBool("attention_bias") == true;
        var rope = ReadRope(f);
        return new LlamaConfig(
            HiddenSize: hidden,
            IntermediateSize: f.RequiredInt("intermediate_size"),
            NumLayers: f.RequiredInt("num_hidden_layers"),
            NumHeads: heads,
            NumKvHeads: f.OptionalInt("num_key_value_heads") ?? (f.Root.TryGetProperty("num_key_value_heads", out _)
                ? heads : family.DefaultKvHeads ?? heads), // null means "as many as the heads" in every family
            VocabSize: f.RequiredInt("vocab_size"),
            MaxPositionEmbeddings: f.RequiredInt("max_position_embeddings"),
            RmsNormEps: (float)(f.OptionalDouble("rms_norm_eps") ?? 1e-6),
            RopeTheta: (float)rope.Theta,
            TieWordEmbeddings: f.OptionalBool("tie_word_embeddings") ?? false)
        {
            HeadDim = f.OptionalInt("head_dim") ?? family.DefaultHeadDim ?? (heads > 0 ? hidden / heads : 0),
            AttentionBias = family.AlwaysQkvBias || attentionBias,
            OutputBias = attentionBias,
            QkNorm = family.QkNorm,
            SlidingWindow = family.Window == SlidingWindowRule.EveryLayer
                ? f.Root.TryGetProperty("sliding_window", out _) ? f.OptionalInt("sliding_window") ?? 0 : 4096
                : 0,
            RopeScaling = rope.Scaling,
            Identity = new ModelIdentity(family.ModelType, ReadArchitecture(f, family), f.OptionalInt("bos_token_id"),
                f.IntOrList("eos_token_id"))
            {
                TorchDtype = f.OptionalString("torch_dtype") ?? f.OptionalString("dtype"),
                SourceConfigJson = sourceJson,
            },
        };
    }

    private static string ReadArchitecture(JsonFields f, ModelFamily family)
    {
        if (!f.Root.TryGetProperty("architectures", out var a) || a.ValueKind != JsonValueKind.Array) return family.Architecture;
        var names = a.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray();
        if (names.Length == 0) return family.Architecture;
        // Only the causal-LM head is implemented: a sequence-classification or token-classification export of the
        // same family has another head.
        if (names[0] != family.Architecture)
            throw new QuantNativeException($"{f.Path}: architectures is [\"{names[0]}\"]; qn runs {family.Architecture} " +
                                           $"for model_type \"{family.ModelType}\" (the causal language-model head)");
        return names[0];
    }

    /// <summary>
    /// rope_theta and the scaling, from Transformers 5's rope_parameters (rope_theta inside) when present, else from
    /// rope_theta + rope_scaling. rope_type (or its older spelling "type") default, linear and llama3 are implemented;
    /// any other is refused by name.
    /// </summary>
    private static RopeParameters ReadRope(JsonFields f)
    {
        if (f.Object("rope_parameters") is { } p)
        {
            if (p.Root.EnumerateObject().Any(e => e.Value.ValueKind == JsonValueKind.Object))
                throw new QuantNativeException($"{p.Path}: per-layer-type RoPE parameters are not supported");
            return new RopeParameters(p.OptionalDouble("rope_theta") ?? f.OptionalDouble("rope_theta") ?? 10000, ReadScaling(p));
        }
        double theta = f.OptionalDouble("rope_theta") ?? 10000;
        return new RopeParameters(theta, f.Object("rope_scaling") is { } s ? ReadScaling(s) : RopeScaling.None);
    }

    private static RopeScaling ReadScaling(JsonFields s)
    {
        string type = s.OptionalString("rope_type") ?? s.OptionalString("type") ?? "default";
        double Positive(string name)
        {
            double v = s.RequiredDouble(name);
            if (!(v > 0) || !double.IsFinite(v)) throw new QuantNativeException($"{s.Path}: {name} must be positive (got {v})");
            return v;
        }
        switch (type)
        {
            case "default":
                return RopeScaling.None;
            case "linear":
                return new RopeScaling(RopeType.Linear, Positive("factor"));
            case "llama3":
            {
                var scaling = new RopeScaling(RopeType.Llama3, Positive("factor"), Positive("low_freq_factor"),
                    Positive("high_freq_factor"), (int)Positive("original_max_position_embeddings"));
                if (scaling.HighFreqFactor <= scaling.LowFreqFactor)
                    throw new QuantNativeException($"{s.Path}: high_freq_factor {scaling.HighFreqFactor} must exceed " +
                                                   $"low_freq_factor {scaling.LowFreqFactor}");
                return scaling;
            }
            default:
                throw new QuantNativeException($"{s.Path}: rope_type \"{type}\" is not supported " +
                                               "(qn implements default, linear and llama3)");
        }
    }

    /// <summary>Fields that would change the model's maths and that qn does not implement: refused by name.</summary>
    private static void RefuseUnsupported(JsonFields f, ModelFamily family)
    {
        void Refuse(string field, string value, string why) =>
            throw new QuantNativeException($"{f.Path}: {field} {value} is not supported ({why})");

        if (f.OptionalString("hidden_act") is { } act && act != "silu")
            Refuse("hidden_act", $"\"{act}\"", "the MLP is SwiGLU with silu");
        if (f.OptionalBool("mlp_bias") == true)
            Refuse("mlp_bias", "true", "the MLP's linear layers have no bias");
        if (f.OptionalDouble("partial_rotary_factor") is { } partial && partial != 1)
            Refuse("partial_rotary_factor", partial.ToString(CultureInfo.InvariantCulture), "RoPE rotates the whole head");
        foreach (var cap in new[] { "attn_logit_softcapping", "final_logit_softcapping" })
            if (f.Has(cap)) Refuse(cap, f.Root.GetProperty(cap).GetRawText(), "no soft-capping is implemented");
        if (family.Window == SlidingWindowRule.UseSlidingWindowFlag && f.OptionalBool("use_sliding_window") == true)
            Refuse("use_sliding_window", "true", $"the per-layer sliding window of {family.ModelType} is not implemented");
        if (f.Root.TryGetProperty("layer_types", out var types) && types.ValueKind == JsonValueKind.Array &&
            types.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String || t.GetString() != "full_attention"))
            Refuse("layer_types", types.GetRawText(), "only full attention on every layer is implemented");
    }

    /// <summary>
    /// Writes a config.json Transformers loads as the source's class. When the config came from a config.json
    /// (<see cref="ModelIdentity.SourceConfigJson"/>) that still describes it, every field of the source is kept in
    /// its order and only torch_dtype (the dtype written) and quantization_config are qn's; otherwise the fields are
    /// written from the config. <paramref name="extra"/> adds members (a quantized checkpoint's quantization_config).
    /// </summary>
    public static void Write(Stream stream, LlamaConfig config, FloatDType dtype, Action<Utf8JsonWriter>? extra = null)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        if (SourceStillDescribes(config) is { } source)
        {
            using (source)
                foreach (var p in source.RootElement.EnumerateObject())
                    if (p.Name is not ("torch_dtype" or "dtype" or "quantization_config"))
                        p.WriteTo(json);
        }
        else
        {
            WriteFields(json, config);
        }
        json.WriteString("torch_dtype", dtype.TorchName());
        extra?.Invoke(json);
        json.WriteEndObject();
    }

    /// <summary>The source's config.json when reading it gives this config's maths again (a tool may have changed
    /// the config since: then the source no longer describes it).</summary>
    private static JsonDocument? SourceStillDescribes(LlamaConfig config)
    {
        if (config.Identity.SourceConfigJson is not { } text) return null;
        var doc = JsonDocument.Parse(text);
        var reread = Parse(new JsonFields(doc.RootElement, FileName), text);
        if (reread with { Identity = config.Identity } == config) return doc;
        doc.Dispose();
        return null;
    }

    private static void WriteFields(Utf8JsonWriter json, LlamaConfig config)
    {
        var id = config.Identity;
        json.WriteStartArray("architectures");
        json.WriteStringValue(id.Architecture);
        json.WriteEndArray();
        json.WriteString("model_type", id.ModelType);
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
        WriteRopeScaling(json, config.RopeScaling);
        json.WriteBoolean("tie_word_embeddings", config.TieWordEmbeddings);
        json.WriteString("hidden_act", "silu");
        if (id.ModelType != "qwen2") json.WriteBoolean("attention_bias", config.OutputBias);
        if (id.ModelType == "llama") json.WriteBoolean("mlp_bias", false);
        if (id.ModelType == "mistral")
        {
            if (config.SlidingWindow > 0) json.WriteNumber("sliding_window", config.SlidingWindow);
            else json.WriteNull("sliding_window");
        }
        if (id.ModelType is "qwen2" or "qwen3") json.WriteBoolean("use_sliding_window", false);
        if (id.BosTokenId is int bos) json.WriteNumber("bos_token_id", bos);
        else json.WriteNull("bos_token_id");
        if (id.EosTokenIds.Count == 1) json.WriteNumber("eos_token_id", id.EosTokenIds[0]);
        else
        {
            json.WriteStartArray("eos_token_id");
            foreach (int e in id.EosTokenIds) json.WriteNumberValue(e);
            json.WriteEndArray();
        }
    }

    private static void WriteRopeScaling(Utf8JsonWriter json, RopeScaling s)
    {
        if (s.Type == RopeType.Default)
        {
            json.WriteNull("rope_scaling");
            return;
        }
        json.WriteStartObject("rope_scaling");
        json.WriteString("rope_type", s.Name);
        json.WriteNumber("factor", s.Factor);
        if (s.Type == RopeType.Llama3)
        {
            json.WriteNumber("low_freq_factor", s.LowFreqFactor);
            json.WriteNumber("high_freq_factor", s.HighFreqFactor);
            json.WriteNumber("original_max_position_embeddings", s.OriginalMaxPositions);
        }
        json.WriteEndObject();
    }

    private static double ShortestDouble(float value) =>
        double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
