using System.Text.Json;
using QuantNative.Formats.HuggingFace;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// The quantization settings of a GPTQ-format checkpoint (DESIGN.md §5) as quantize_config.json and the
/// quantization_config section of config.json spell them. Our own fields (qn_method, damp_percent) ride along; readers
/// need only bits, group_size, sym and checkpoint_format.
/// </summary>
public sealed record GptqQuantizeConfig(int Bits, int GroupSize, bool Symmetric, bool DescAct, bool StaticGroups,
    GptqCheckpointFormat Format, string Method, double? DampPercent)
{
    public const string FileName = "quantize_config.json";

    public QuantizerConfig Quantizer => new(Bits, GroupSize, Symmetric);

    public static string FormatName(GptqCheckpointFormat format) => format == GptqCheckpointFormat.V2 ? "gptq_v2" : "gptq";

    public static GptqQuantizeConfig From(QuantizedModel model) => new(model.Quantizer.Bits, model.Quantizer.GroupSize,
        model.Quantizer.Symmetric, model.ActOrder, model.StaticGroups, model.Format,
        model.Method, model.DampPercent);

    /// <summary>The fields, as an object's members (the caller writes the braces).</summary>
    public void WriteFields(Utf8JsonWriter json)
    {
        json.WriteString("quant_method", "gptq");
        json.WriteNumber("bits", Bits);
        json.WriteNumber("group_size", GroupSize);
        json.WriteBoolean("sym", Symmetric);
        json.WriteBoolean("desc_act", DescAct);
        json.WriteBoolean("static_groups", StaticGroups);
        json.WriteBoolean("true_sequential", true);
        json.WriteString("checkpoint_format", FormatName(Format));
        json.WriteString("qn_method", Method);
        if (DampPercent is double damp) json.WriteNumber("damp_percent", damp);
    }

    public void WriteFile(Stream stream)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        WriteFields(json);
        json.WriteEndObject();
    }

    /// <summary>
    /// The settings of the GPTQ checkpoint in <paramref name="directory"/> from quantize_config.json, else from
    /// config.json's quantization_config; null when neither says the directory is GPTQ-quantized. A quant_method other
    /// than "gptq" in either is refused (an AWQ or other checkpoint packs its tensors differently, and reading it as
    /// GPTQ would run a wrong model), and so are the two files disagreeing on a field both give: runtimes differ in
    /// which one they read, so the checkpoint means different things to different tools.
    /// </summary>
    public static GptqQuantizeConfig? TryRead(string directory)
    {
        string file = Path.Combine(directory, FileName), config = Path.Combine(directory, HuggingFaceConfig.FileName);
        using var quantizeDoc = File.Exists(file) ? Parse(file) : null;
        using var configDoc = File.Exists(config) ? Parse(config) : null;
        JsonElement? own = quantizeDoc?.RootElement;
        JsonElement? section = configDoc is { RootElement: { ValueKind: JsonValueKind.Object } root } &&
                               root.TryGetProperty("quantization_config", out var q) && q.ValueKind == JsonValueKind.Object
            ? q : null;
        if (section is { } s)
        {
            if (!s.TryGetProperty("quant_method", out var m) || m.ValueKind != JsonValueKind.String)
                throw new QuantNativeException($"{config}: quantization_config has no quant_method (expected \"gptq\")");
            RefuseOtherMethod(m, $"{config}: quantization_config.quant_method");
        }
        if (own is { } o)
        {
            if (o.ValueKind != JsonValueKind.Object) throw new QuantNativeException($"{file}: expected a JSON object");
            if (o.TryGetProperty("quant_method", out var m) && m.ValueKind != JsonValueKind.Null)
                RefuseOtherMethod(m, $"{file}: quant_method");
            if (section is { } both) RefuseContradiction(o, both, file, config);
            return Read(o, file);
        }
        return section is { } only ? Read(only, $"{config} (quantization_config)") : null;
    }

    private static void RefuseOtherMethod(JsonElement method, string where)
    {
        if (method.ValueKind != JsonValueKind.String || method.GetString() != "gptq")
            throw new QuantNativeException($"{where} is {method.GetRawText()}: only \"gptq\" checkpoints are supported " +
                                           "(another method packs its weights differently)");
    }

    /// <summary>The fields that decide how the tensors decode must agree where both files give them.</summary>
    private static void RefuseContradiction(JsonElement own, JsonElement section, string file, string config)
    {
        foreach (string name in (string[])["bits", "group_size", "sym", "desc_act", "checkpoint_format"])
        {
            if (!own.TryGetProperty(name, out var a) || a.ValueKind == JsonValueKind.Null ||
                !section.TryGetProperty(name, out var b) || b.ValueKind == JsonValueKind.Null)
                continue;
            if (!JsonElement.DeepEquals(a, b))
                throw new QuantNativeException(
                    $"{config}: quantization_config.{name} is {b.GetRawText()} but {file} says {a.GetRawText()}; " +
                    "runtimes read one or the other, so the two must agree: fix the wrong one");
        }
    }

    private static JsonDocument Parse(string path) => JsonInput.ParseFile(path);

    private static GptqQuantizeConfig Read(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new QuantNativeException($"{where}: expected a JSON object");
        int bits = Int(e, "bits", where) ?? throw new QuantNativeException($"{where}: missing required field 'bits'");
        if (!QuantizerConfig.GptqBits.Contains(bits))
            throw new QuantNativeException(
                $"{where}: bits = {bits} is not supported: expected one of {string.Join(", ", QuantizerConfig.GptqBits)}");
        int group = Int(e, "group_size", where) ?? throw new QuantNativeException($"{where}: missing required field 'group_size'");
        if (group < -1)
            throw new QuantNativeException($"{where}: group_size = {group}: expected a positive size or -1 (per-channel)");
        var format = GptqCheckpointFormat.V1;
        if (e.TryGetProperty("checkpoint_format", out var f) && f.ValueKind != JsonValueKind.Null)
            format = f.ValueKind == JsonValueKind.String ? f.GetString() switch
            {
                "gptq" => GptqCheckpointFormat.V1,
                "gptq_v2" => GptqCheckpointFormat.V2,
                _ => throw new QuantNativeException(
                    $"{where}: checkpoint_format {f.GetRawText()}: expected \"gptq\" (v1) or \"gptq_v2\""),
            } : throw new QuantNativeException($"{where}: checkpoint_format {f.GetRawText()}: expected a string");
        string method = e.TryGetProperty("qn_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "gptq";
        double? damp = e.TryGetProperty("damp_percent", out var dp) && dp.ValueKind == JsonValueKind.Number ? dp.GetDouble() : null;
        return new GptqQuantizeConfig(bits, group, Bool(e, "sym", where) ?? false, Bool(e, "desc_act", where) ?? false,
            Bool(e, "static_groups", where) ?? false, format, method, damp);
    }

    private static int? Int(JsonElement e, string name, string where)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i))
            throw new QuantNativeException($"{where}: field '{name}' must be an integer, got {v.GetRawText()}");
        return i;
    }

    private static bool? Bool(JsonElement e, string name, string where)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw new QuantNativeException($"{where}: field '{name}' must be true or false, got {v.GetRawText()}");
        return v.GetBoolean();
    }
}
