namespace QuantNative.Formats.Safetensors;

/// <summary>Element sizes of every dtype the safetensors format defines (used to validate offsets, even for
/// dtypes QuantNative cannot convert to fp32).</summary>
public static class SafetensorsDTypes
{
    private static readonly Dictionary<string, int> Sizes = new()
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    /// <summary>Bytes per element of <paramref name="dtype"/>, or null for a name the format does not define.</summary>
    public static int? SizeOf(string dtype) => Sizes.TryGetValue(dtype, out int size) ? size : null;
}
