using NUnit.Framework;
using QuantNative.Formats;

namespace QuantNative.Tests.Formats;

public class FloatConversionTests
{
    [TestCase(FloatDType.BF16)]
    [TestCase(FloatDType.F16)]
    public void EncodeRoundsToNearestEvenLikeTheScalarReference(FloatDType dtype)
    {
        var values = ReferenceRounding.HardCases(seed: (int)dtype, randomCount: 20000);
        var reference = ReferenceRounding.For(dtype);
        var bytes = new byte[values.Length * 2];
        FloatConversion.Encode(values, dtype, bytes);
        int ties = 0;
        for (int i = 0; i < values.Length; i++)
        {
            ushort expected = reference.Bits(values[i]);
            ushort actual = BitConverter.ToUInt16(bytes, 2 * i);
            if (actual != expected)
                Assert.Fail($"{dtype}: {values[i]:R} (0x{BitConverter.SingleToUInt32Bits(values[i]):X8}) encoded as 0x{actual:X4}, expected 0x{expected:X4}");
            Assert.That(BitConverter.SingleToInt32Bits(FloatConversion.Round(values[i], dtype)),
                Is.EqualTo(BitConverter.SingleToInt32Bits(reference.Round(values[i]))), $"Round({values[i]:R})");
            if (dtype == FloatDType.BF16 && (BitConverter.SingleToUInt32Bits(values[i]) & 0xFFFF) == 0x8000) ties++;
        }
        if (dtype == FloatDType.BF16) Assert.That(ties, Is.GreaterThan(10000), "ties were exercised");
    }

    [TestCase(FloatDType.BF16)]
    [TestCase(FloatDType.F16)]
    [TestCase(FloatDType.F32)]
    public void DecodeInvertsEncodeOnRepresentableValues(FloatDType dtype)
    {
        var values = ReferenceRounding.HardCases(seed: 11, randomCount: 2000)
            .Select(v => dtype == FloatDType.F32 ? v : ReferenceRounding.For(dtype).Round(v)).ToArray();
        var bytes = new byte[values.Length * dtype.ByteSize()];
        FloatConversion.Encode(values, dtype, bytes);
        var back = new float[values.Length];
        FloatConversion.Decode(bytes, dtype, back);
        RandomModels.AssertBits(values, back, dtype.ToString());
    }

    [Test]
    public void BFloat16KeepsNaNsNaN()
    {
        foreach (uint bits in new uint[] { 0x7FC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF })
        {
            float nan = BitConverter.UInt32BitsToSingle(bits);
            float back = FloatConversion.FromBFloat16Bits(FloatConversion.ToBFloat16Bits(nan));
            Assert.That(float.IsNaN(back), $"0x{bits:X8}");
            Assert.That(float.IsNegative(back), Is.EqualTo(float.IsNegative(nan)), $"sign of 0x{bits:X8}");
        }
    }
}
