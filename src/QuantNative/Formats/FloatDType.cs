namespace QuantNative.Formats;

/// <summary>The floating-point storage types checkpoints are read from and written to.</summary>
public enum FloatDType
{
    F32,
    F16,
    BF16,
}

public static class FloatDTypeExtensions
{
    public static int ByteSize(this FloatDType dtype) => dtype switch
    {
        FloatDType.F32 => 4,
        FloatDType.F16 => 2,
        FloatDType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The dtype's name in a safetensors header ("F32", "F16", "BF16").</summary>
    public static string SafetensorsName(this FloatDType dtype) => dtype.ToString();

    /// <summary>The name Transformers writes as config.json's torch_dtype.</summary>
    public static string TorchName(this FloatDType dtype) => dtype switch
    {
        FloatDType.F32 => "float32",
        FloatDType.F16 => "float16",
        FloatDType.BF16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Parses a safetensors dtype name; false for every type that is not F32, F16 or BF16.</summary>
    /// <summary>A command-line dtype (f32/float32, f16/float16, bf16/bfloat16); the error names the option.</summary>
    public static FloatDType ParseOption(string text, string option) => text.ToLowerInvariant() switch
    {
        "f32" or "float32" => FloatDType.F32,
        "f16" or "float16" => FloatDType.F16,
        "bf16" or "bfloat16" => FloatDType.BF16,
        _ => throw new QuantNativeException($"{option} {text}: expected f32, f16 or bf16"),
    };

    public static bool TryParseSafetensors(string name, out FloatDType dtype)
    {
        switch (name)
        {
            case "F32": dtype = FloatDType.F32; return true;
            case "F16": dtype = FloatDType.F16; return true;
            case "BF16": dtype = FloatDType.BF16; return true;
            default: dtype = default; return false;
        }
    }
}
