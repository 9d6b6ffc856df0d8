using System.Buffers.Binary;

namespace QuantNative.Formats.Gguf;

/// <summary>The fp16 fields of ggml blocks: IEEE half, round to nearest even (what GGML_FP32_TO_FP16 does on x86
/// with F16C, and .NET's (Half) cast), little-endian.</summary>
internal static class Fp16
{
    public static void Write(Span<byte> at, float value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(at, BitConverter.HalfToUInt16Bits((Half)value));

    public static float Read(ReadOnlySpan<byte> at) =>
        (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(at));

    public static float Round(float value) => (float)(Half)value;
}
