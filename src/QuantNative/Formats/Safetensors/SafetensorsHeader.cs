using System.Text.Json;

namespace QuantNative.Formats.Safetensors;

/// <summary>One tensor entry of a safetensors header; Begin/End are byte offsets relative to the data section.</summary>
internal sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// Parses and validates the JSON header of a safetensors file: {name: {dtype, shape, data_offsets: [begin, end]}}
/// plus an optional "__metadata__" string map. Every error names the file and, where there is one, the tensor.
/// </summary>
internal static class SafetensorsHeader
{
    public const string MetadataKey = "__metadata__";

    public static (List<SafetensorsEntry> Entries, Dictionary<string, string> Metadata) Parse(
        ReadOnlyMemory<byte> json, long dataBytes, string path)
    {
        using (var doc = JsonInput.Parse(json, $"{path}: the safetensors header"))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new QuantNativeException(
                    $"{path}: the safetensors header is a JSON {doc.RootElement.ValueKind}, expected an object");
            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new QuantNativeException($"{path}: the safetensors header lists '{property.Name}' twice");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, path);
                else
                    entries.Add(ReadEntry(property.Name, property.Value, dataBytes, path));
            }
            CheckNoOverlap(entries, path);
            return (entries, metadata);
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new QuantNativeException($"{path}: safetensors {MetadataKey} must be an object of strings");
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new QuantNativeException($"{path}: safetensors {MetadataKey} entry '{p.Name}' must be a string");
            metadata[p.Name] = p.Value.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(string name, JsonElement value, long dataBytes, string path)
    {
        string where = $"{path}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw new QuantNativeException($"{where}: header entry must be an object with dtype, shape and data_offsets");

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new QuantNativeException($"{where}: header entry has no string 'dtype'");
        string dtype = dtypeElement.GetString()!;

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new QuantNativeException($"{where}: header entry has no 'shape' array");
        var shape = new long[shapeElement.GetArrayLength()];
        int k = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long n) || n < 0)
                throw new QuantNativeException($"{where}: shape must hold non-negative integers, got {shapeElement.GetRawText()}");
            shape[k++] = n;
        }

        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array ||
            offsets.GetArrayLength() != 2)
            throw new QuantNativeException($"{where}: header entry has no 'data_offsets' pair [begin, end]");
        long begin = ReadOffset(offsets[0], where), end = ReadOffset(offsets[1], where);
        if (begin > end || end > dataBytes)
            throw new QuantNativeException(
                $"{where}: data_offsets [{begin}, {end}] lie outside the {dataBytes}-byte data section");

        if (SafetensorsDTypes.SizeOf(dtype) is int size)
        {
            long expected;
            try
            {
                expected = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * size);
            }
            catch (OverflowException)
            {
                throw new QuantNativeException($"{where}: shape {shapeElement.GetRawText()} is too large");
            }
            if (end - begin != expected)
                throw new QuantNativeException(
                    $"{where}: data_offsets [{begin}, {end}] span {end - begin} bytes, but shape " +
                    $"{shapeElement.GetRawText()} of {dtype} needs {expected}");
        }
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private static long ReadOffset(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw new QuantNativeException($"{where}: data_offsets must be non-negative integers, got {e.GetRawText()}");
        return v;
    }

    private static void CheckNoOverlap(List<SafetensorsEntry> entries, string path)
    {
        var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw new QuantNativeException(
                    $"{path}: tensors '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}] and " +
                    $"'{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End}] overlap");
    }
}
