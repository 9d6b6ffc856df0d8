namespace QuantNative.Inference.LowBit;

/// <summary>
/// What the CPU decode GEMV (up to <see cref="LowBitCpuLinear.GemvTokens"/> tokens) multiplies the low-bit weights
/// with.
/// </summary>
public enum DecodeActivations
{
    /// <summary>x rounded to int8 per chunk of the layout (32 values at W4, 64 at W2, 128 at W3) with one float scale
    /// each, as llama.cpp rounds activations to Q8_0/Q8_K for its quantized types, and the weights' codes multiplied
    /// by it in integers (<see cref="LowBitInt8Row"/>). Each product moves by at most |ŵ|·d/2 (d the chunk's
    /// max |x| / 127), which <c>LowBitInt8GemvTests</c> checks; 2–3× fewer instructions per weight than float32.
    /// The default of `qn generate` and `qn bench decode` (where the machine has AVX2 or AVX-512BW).</summary>
    Int8,

    /// <summary>x as float32: the codes widened to float and multiplied by it (<see cref="LowBitGemvRow"/>); only the
    /// summation order differs from the dequantized reference. What evaluation always uses (a perplexity does not
    /// depend on whether its windows are short enough for the GEMV), and the library's default.</summary>
    Float32,
}

public static class DecodeActivationsOption
{
    public const string HelpText = "int8 (default: activations rounded to int8 per 32/64/128 values for the low-bit " +
                                   "decode GEMV, as llama.cpp does) or fp32 (exact float32 products, slower)";

    public static DecodeActivations Parse(string? text, string option) => text?.ToLowerInvariant() switch
    {
        null or "" or "int8" => DecodeActivations.Int8,
        "fp32" or "float32" => DecodeActivations.Float32,
        _ => throw new QuantNativeException($"{option}: '{text}' is not a decode activation type; use int8 or fp32"),
    };
}
