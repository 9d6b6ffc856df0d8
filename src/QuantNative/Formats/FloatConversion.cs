using System.Runtime.Intrinsics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace QuantNative.Formats;

/// <summary>
/// fp32 ↔ F16/BF16 conversion of little-endian tensor bytes. Both narrowing conversions round to nearest, ties to
/// even (IEEE 754's default, and what PyTorch does), so a tensor written here equals torch's .to(dtype) of it.
/// </summary>
public static class FloatConversion
{
    static FloatConversion()
    {
        // Checkpoint files are little-endian and are reinterpreted in place; a big-endian host would need byte swaps.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("QuantNative reads checkpoints only on little-endian hosts");
    }

    /// <summary>BF16 bits of <paramref name="value"/>, rounded to nearest even; NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Truncating a NaN could clear every mantissa bit and make it infinity; keep the sign, force a quiet NaN.
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000)
            return (ushort)((bits >> 16) | 0x0040);
        // Adding 0x7FFF rounds up exactly when the dropped half exceeds 0x8000; the kept LSB breaks the tie to even.
        // A carry out of the mantissa bumps the exponent, which is the correct rounding (up to infinity at the top).
        uint lsb = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFF + lsb) >> 16);
    }

    public static float FromBFloat16Bits(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>The value <paramref name="value"/> takes after a round trip through <paramref name="dtype"/>.</summary>
    public static float Round(float value, FloatDType dtype) => dtype switch
    {
        FloatDType.F32 => value,
        FloatDType.F16 => (float)(Half)value,
        FloatDType.BF16 => FromBFloat16Bits(ToBFloat16Bits(value)),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Decodes <c>destination.Length</c> elements of <paramref name="dtype"/> from <paramref name="source"/>.</summary>
    public static void Decode(ReadOnlySpan<byte> source, FloatDType dtype, Span<float> destination)
    {
        if (source.Length != destination.Length * dtype.ByteSize())
            throw new ArgumentException($"{source.Length} bytes do not hold {destination.Length} {dtype} values");
        switch (dtype)
        {
            case FloatDType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case FloatDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case FloatDType.BF16:
                DecodeBFloat16(MemoryMarshal.Cast<byte, ushort>(source), destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
        }
    }

    /// <summary>BF16 → fp32 is the 16 bits moved up: 16 at a time (two widened halves), the tail one by one; exact.</summary>
    private static void DecodeBFloat16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        int i = 0;
        var dst = MemoryMarshal.Cast<float, uint>(destination);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 16 <= source.Length; i += 16)
            {
                var (lower, upper) = Vector256.Widen(
                    Vector256.Create(source.Slice(i, 16)));
                (lower << 16).CopyTo(dst.Slice(i, 8));
                (upper << 16).CopyTo(dst.Slice(i + 8, 8));
            }
        for (; i < source.Length; i++) destination[i] = FromBFloat16Bits(source[i]);
    }

    /// <summary>Encodes <paramref name="source"/> as <paramref name="dtype"/> into <paramref name="destination"/>.</summary>
    public static void Encode(ReadOnlySpan<float> source, FloatDType dtype, Span<byte> destination)
    {
        if (destination.Length != source.Length * dtype.ByteSize())
            throw new ArgumentException($"{destination.Length} bytes cannot hold {source.Length} {dtype} values");
        switch (dtype)
        {
            case FloatDType.F32:
                MemoryMarshal.Cast<float, byte>(source).CopyTo(destination);
                break;
            case FloatDType.F16:
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination));
                break;
            case FloatDType.BF16:
                var bf = MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < source.Length; i++)
                    bf[i] = ToBFloat16Bits(source[i]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
        }
    }
}
