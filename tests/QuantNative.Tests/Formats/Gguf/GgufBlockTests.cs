using NUnit.Framework;
using QuantNative.Formats.Gguf;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;

namespace QuantNative.Tests.Formats.Gguf;

/// <summary>
/// The block-32 exports from qn's codes: symmetric W4/W8 g32 as Q4_0/Q8_0 dequantize (ggml's dequantize_row_*) to
/// exactly the bits of qn's own dequantization; asymmetric codes as Q4_1/Q5_1 keep the integers and scales, with m
/// the fp16 of −z·s (how far it is from −z·s is measured, not assumed). Layouts are checked against the byte layout
/// of ggml-common.h written out by hand for one block.
/// </summary>
public class GgufBlockTests
{
    private static QuantizedMatrix Rtn(int rows, int columns, QuantizerConfig config, int seed)
    {
        var w = RandomModels.Floats(new Random(seed), (long)rows * columns);
        return QuantNative.Quantization.Rtn.Quantize(w, rows, columns, config);
    }

    private static float[] Decode(GgmlType type, byte[] bytes, int count)
    {
        var (bs, bb) = type.Traits();
        var y = new float[count];
        for (int b = 0; b < count / bs; b++) Block32Codec.Decode(type, bytes.AsSpan(b * bb, bb), y.AsSpan(b * bs, bs));
        return y;
    }

    private static byte[] Export(QuantizedMatrix m, GgmlType type)
    {
        var bytes = new byte[type.RowBytes(m.Columns) * m.Rows];
        GgufExporter.EncodeExact(m, type, Enumerable.Range(0, m.Rows).ToArray(), bytes);
        return bytes;
    }

    /// <summary>A learned run's commit of random [13, 128] weights with clipping parameters σ⁻¹ of 1..5 (u, then l).</summary>
    private static QuantizedMatrix LearnedCommit(QuantizerConfig config, int weightSeed, int parameterSeed)
    {
        var w = RandomModels.Floats(new Random(weightSeed), 13L * 128);
        var lwc = new QuantNative.Quantization.Learned.Lwc.LwcLinear("blk.0.wq", w, 13, 128, config);
        var random = new Random(parameterSeed);
        foreach (var parameter in new[] { lwc.U.Value, lwc.L.Value })
            for (int p = 0; p < parameter.Length; p++) parameter[p] = 1f + 4f * random.NextSingle();
        return lwc.Commit(config);
    }

    [TestCase(4, GgmlType.Q4_0)]
    [TestCase(8, GgmlType.Q8_0)]
    [TestCase(3, GgmlType.Q4_0)]
    [TestCase(2, GgmlType.Q8_0)]
    [TestCase(5, GgmlType.Q5_0)]
    [TestCase(4, GgmlType.Q5_0)]
    [TestCase(6, GgmlType.Q8_0)]
    public void SymmetricCodesDequantizeToQnsBitsExactly(int bits, GgmlType type)
    {
        var m = Rtn(17, 96, new QuantizerConfig(bits, 32, symmetric: true), seed: bits);
        Assert.That(GgufExporter.ExactTypes(m), Does.Contain(type));
        var gguf = Decode(type, Export(m, type), m.Rows * m.Columns);
        RandomModels.AssertBits(m.Dequantize(), gguf, $"{type} from sym W{bits} g32");
    }

    /// <summary>Learned symmetric clipping stores its z = h − 1 groups with negative scales: Q4_0/Q8_0's signed d holds
    /// them, still bit for bit.</summary>
    [TestCase(4, GgmlType.Q4_0)]
    [TestCase(3, GgmlType.Q4_0)]
    [TestCase(8, GgmlType.Q8_0)]
    public void LearnedSymmetricCodesWithSignedScalesDequantizeExactly(int bits, GgmlType type)
    {
        var m = LearnedCommit(new QuantizerConfig(bits, 32, symmetric: true), 20 + bits, bits);
        Assert.That(m.Scales, Has.Some.Negative.And.Some.Positive, "groups of both sides");
        Assert.That(GgufExporter.ExactTypes(m), Does.Contain(type));
        var gguf = Decode(type, Export(m, type), m.Rows * m.Columns);
        RandomModels.AssertBits(m.Dequantize(), gguf, $"{type} from learned sym W{bits} g32");
    }

    /// <summary>Learned free-minimum codes (--free-min) are Q4_1/Q5_1's own form: d = s and m = the stored minimum,
    /// bit for bit; no other block type holds them.</summary>
    [TestCase(4, GgmlType.Q4_1)]
    [TestCase(4, GgmlType.Q5_1)]
    [TestCase(5, GgmlType.Q5_1)]
    [TestCase(2, GgmlType.Q4_1)]
    public void LearnedFreeMinimumCodesDequantizeExactly(int bits, GgmlType type)
    {
        var m = LearnedCommit(new QuantizerConfig(bits, 32, freeMinimum: true), 40 + bits, bits);
        Assert.That(m.Minimums!.Select(v => v / m.Scales[0]).Any(v => v != MathF.Round(v)), "minimums off the scale's multiples");
        Assert.That(GgufExporter.ExactTypes(m), Is.EqualTo(bits <= 4 ? new[] { GgmlType.Q4_1, GgmlType.Q5_1 } : new[] { GgmlType.Q5_1 }));
        var bytes = Export(m, type);
        for (int p = 0; p < m.Scales.Length; p++)
        {
            int block = p * type.Traits().BlockBytes;
            Assert.That((float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(bytes, block + 2)), Is.EqualTo(m.Minimums![p]), $"m of group {p}");
        }
        RandomModels.AssertBits(m.Dequantize(), Decode(type, bytes, m.Rows * m.Columns), $"{type} from free-min W{bits} g32");
    }

    [TestCase(4, GgmlType.Q4_1)]
    [TestCase(4, GgmlType.Q5_1)]
    [TestCase(3, GgmlType.Q4_1)]
    [TestCase(2, GgmlType.Q5_1)]
    [TestCase(5, GgmlType.Q5_1)]
    public void AsymmetricCodesKeepIntegersAndScalesWithMRoundedToFp16(int bits, GgmlType type)
    {
        var m = Rtn(9, 64, new QuantizerConfig(bits, 32), seed: 10 + bits);
        var bytes = Export(m, type);
        var gguf = Decode(type, bytes, m.Rows * m.Columns);
        var qn = m.Dequantize();
        double maxRel = 0;
        for (int r = 0; r < m.Rows; r++)
        for (int g = 0; g < m.Groups; g++)
        {
            int block = (r * m.Groups + g) * type.Traits().BlockBytes;
            float d = (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(bytes, block));
            float mm = (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(bytes, block + 2));
            float s = m.Scales[r * m.Groups + g];
            int z = m.Zeros[r * m.Groups + g];
            Assert.That(d, Is.EqualTo(s), "d is the stored fp16 scale");
            Assert.That(mm, Is.EqualTo((float)(Half)(-z * s)), "m is fp16(−z·s)");
            maxRel = Math.Max(maxRel, Math.Abs(mm + (double)z * s) / s);
            for (int j = 0; j < 32; j++)
            {
                int i = r * m.Columns + g * 32 + j;
                // The same integer: x = q·d + m, so (x − m)/d gives the code back.
                Assert.That(MathF.Round((gguf[i] - mm) / d), Is.EqualTo(m.Codes[i]));
                Assert.That(Math.Abs(gguf[i] - qn[i]), Is.LessThanOrEqualTo(Math.Abs(mm + (double)z * s) + 1e-6 * s * 32));
            }
        }
        TestContext.Out.WriteLine($"{type} from asym W{bits} g32: max |m − (−z·s)|/s = {maxRel:E3}");
        // fp16 keeps 11 significant bits: |m| = z·s ≤ 2^bits·s, so the rounding is at most 2^bits·2⁻¹¹·s.
        Assert.That(maxRel, Is.LessThanOrEqualTo((1 << bits) * Math.Pow(2, -11)));
    }

    [Test]
    public void NibbleLayoutIsGgmlCommonH()
    {
        // Q4_0: fp16 d, then byte j = q[j] | q[j + 16] << 4; Q8_0: fp16 d then int8 q − 128.
        var q = Enumerable.Range(0, 32).Select(i => (byte)(i % 16)).ToArray();
        var block = new byte[18];
        Block32Codec.EncodeCodes(GgmlType.Q4_0, q, 0.5f, 0, block);
        Assert.That(BitConverter.ToUInt16(block, 0), Is.EqualTo(0x3800), "0.5 in fp16");
        for (int j = 0; j < 16; j++) Assert.That(block[2 + j], Is.EqualTo((byte)(q[j] | (q[j + 16] << 4))));
        var q5 = Enumerable.Range(0, 32).Select(i => (byte)(i)).ToArray();
        var b5 = new byte[24];
        Block32Codec.EncodeCodes(GgmlType.Q5_1, q5, 1f, -2f, b5);
        Assert.That(BitConverter.ToUInt32(b5, 4), Is.EqualTo(0xFFFF0000u), "fifth bits of elements 16..31 in qh's high half");
        var y = new float[32];
        Block32Codec.Decode(GgmlType.Q5_1, b5, y);
        Assert.That(y, Is.EqualTo(q5.Select(v => v - 2f).ToArray()));
    }

    [TestCase(GgmlType.Q4_0, 1.0 / 14)]
    [TestCase(GgmlType.Q4_1, 1.0 / 28)]
    [TestCase(GgmlType.Q5_0, 1.0 / 30)]
    [TestCase(GgmlType.Q5_1, 1.0 / 60)]
    [TestCase(GgmlType.Q8_0, 1.0 / 250)]
    [TestCase(GgmlType.IQ4_NL, 1.0 / 10)]
    public void ReferenceQuantizersStayWithinHalfAStep(GgmlType type, double halfStepOfRange)
    {
        // quantize_row_*_ref rounds to the nearest level: the error is at most half a step, a fraction of the block's range.
        var random = new Random(3);
        var x = RandomModels.Floats(random, 32 * 40).Select(v => MathF.Max(-1, MathF.Min(1, v))).ToArray();
        var bytes = new byte[40 * type.Traits().BlockBytes];
        for (int b = 0; b < 40; b++) Block32Codec.QuantizeReference(type, x.AsSpan(b * 32, 32), bytes.AsSpan(b * type.Traits().BlockBytes));
        var y = Decode(type, bytes, x.Length);
        for (int b = 0; b < 40; b++)
        {
            var block = x.AsSpan(b * 32, 32).ToArray();
            double range = block.Max() - block.Min(), amax = block.Max(Math.Abs);
            double bound = (type is GgmlType.Q4_1 or GgmlType.Q5_1 ? range : 2 * amax) * halfStepOfRange * 1.01 + 1e-3 * amax;
            for (int j = 0; j < 32; j++)
                Assert.That(Math.Abs(y[b * 32 + j] - block[j]), Is.LessThanOrEqualTo(bound), $"{type} block {b} element {j}");
        }
    }
}
