using System.Text.Json;

namespace QuantNative.Formats.HuggingFace;

/// <summary>Typed reads of a config.json object's fields; every wrong type is an error naming the file and field.</summary>
internal readonly record struct JsonFields(JsonElement Root, string Path)
{
    public bool Has(string name) => Root.TryGetProperty(name, out var e) && e.ValueKind != JsonValueKind.Null;

    public int RequiredInt(string name) =>
        OptionalInt(name) ?? throw new QuantNativeException($"{Path}: missing required field '{name}'");

    public double RequiredDouble(string name) =>
        OptionalDouble(name) ?? throw new QuantNativeException($"{Path}: missing required field '{name}'");

    public int? OptionalInt(string name)
    {
        if (!Root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v))
            throw new QuantNativeException($"{Path}: field '{name}' must be an integer, got {e.GetRawText()}");
        return v;
    }

    public double? OptionalDouble(string name)
    {
        if (!Root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number)
            throw new QuantNativeException($"{Path}: field '{name}' must be a number, got {e.GetRawText()}");
        return e.GetDouble();
    }

    public bool? OptionalBool(string name)
    {
        if (!Root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw new QuantNativeException($"{Path}: field '{name}' must be true or false, got {e.GetRawText()}");
        return e.GetBoolean();
    }

    public string? OptionalString(string name)
    {
        if (!Root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.String)
            throw new QuantNativeException($"{Path}: field '{name}' must be a string, got {e.GetRawText()}");
        return e.GetString();
    }

    /// <summary>An integer or a list of integers (eos_token_id may be either); empty when absent or null.</summary>
    public int[] IntOrList(string name)
    {
        if (!Root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return [];
        if (e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out _)))
            return e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
        return [OptionalInt(name)!.Value];
    }

    /// <summary>A nested object (rope_scaling, rope_parameters) as fields of its own; null when absent or null.</summary>
    public JsonFields? Object(string name)
    {
        if (!Root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Object)
            throw new QuantNativeException($"{Path}: field '{name}' must be an object, got {e.GetRawText()}");
        return new JsonFields(e, $"{Path}: {name}");
    }
}
