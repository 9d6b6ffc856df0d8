using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// <see cref="LowBitWeights.ScaleZero"/> words (low 16 bits the fp16 scale, high 16 the fp16 zero) of consecutive rows
/// converted to float32 in vector registers: the decode GEMV converts a block's scales once per call, and doing it
/// through a general fp16 span conversion cost a fifth of the int8 kernel's time. Exact, as fp16 → fp32 always is:
/// the 15 magnitude bits moved into a float's exponent and mantissa and scaled by 2¹¹² (which renormalises subnormals
/// and keeps zero), infinities and NaNs (exponent 31) given the float's all-ones exponent, the sign put back.
/// </summary>
public static class ScaleZeroWords
{
    /// <summary>2¹¹², exactly: fp16's exponent bias 15 against float32's 127.</summary>
    private const float TwoTo112 = 5.192296858534828e33f;

    /// <summary>fp16 bit patterns in the low 16 bits of each lane → float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<uint> half)
    {
        var magnitude = (half & Vector256.Create(0x7fffu)) << 13;
        var finite = magnitude.AsSingle() * Vector256.Create(TwoTo112);
        var special = Vector256.Equals(half & Vector256.Create(0x7c00u), Vector256.Create(0x7c00u));
        var value = Vector256.ConditionalSelect(special.AsSingle(), (magnitude | Vector256.Create(0x7f800000u)).AsSingle(), finite);
        return (value.AsUInt32() | ((half & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    /// <summary>
    /// Rows [0, <paramref name="rows"/>) of one group's words (<paramref name="words"/>, consecutive rows) → their scales
    /// s and the products s·z, 8 rows per vector (a partial last vector reads, and writes, up to 7 values past
    /// <paramref name="rows"/>: the caller's words must extend that far or <paramref name="rows"/> be a multiple of 8).
    /// </summary>
    public static unsafe void Convert(uint* words, int rows, float* scales, float* scaledZeros)
    {
        for (int r = 0; r < rows; r += 8)
        {
            var w = Vector256.Load(words + r);
            var s = ToSingle(w & Vector256.Create(0xffffu));
            s.Store(scales + r);
            (s * ToSingle(w >> 16)).Store(scaledZeros + r);
        }
    }
}
