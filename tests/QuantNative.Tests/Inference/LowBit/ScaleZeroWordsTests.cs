using NUnit.Framework;
using QuantNative.Inference.LowBit;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>The vector fp16 → fp32 conversion of the decode GEMV's scale/zero words, every fp16 value, against .NET's
/// Half conversion: bit for bit (NaNs: NaN with the same sign).</summary>
public class ScaleZeroWordsTests
{
    [Test]
    public unsafe void EveryHalfConvertsAsDotNetDoes()
    {
        // Word i holds half pattern i as its scale and pattern i ^ 0xffff as its zero, so both halves see every value.
        var words = new uint[65536];
        for (int i = 0; i < words.Length; i++) words[i] = (uint)i | ((uint)(i ^ 0xffff) << 16);
        var scales = new float[words.Length];
        var products = new float[words.Length];
        fixed (uint* w = words) fixed (float* s = scales) fixed (float* p = products)
            ScaleZeroWords.Convert(w, words.Length, s, p);
        Assert.That(2 * Math.Pow(2, 111), Is.EqualTo((double)5.192296858534828e33f), "2^112 as the code spells it");
        for (int i = 0; i < words.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            float zero = (float)BitConverter.UInt16BitsToHalf((ushort)(i ^ 0xffff));
            if (float.IsNaN(expected))
                Assert.That(float.IsNaN(scales[i]) && float.IsNegative(scales[i]) == float.IsNegative(expected), Is.True, $"half 0x{i:x4}");
            else
                Assert.That(BitConverter.SingleToUInt32Bits(scales[i]), Is.EqualTo(BitConverter.SingleToUInt32Bits(expected)),
                    $"half 0x{i:x4}: {scales[i]} against {expected}");
            float product = expected * zero;
            if (float.IsNaN(product)) Assert.That(float.IsNaN(products[i]), Is.True, $"s·z of word 0x{words[i]:x8}");
            else Assert.That(products[i], Is.EqualTo(product), $"s·z of word 0x{words[i]:x8}");
        }
    }
}
