using NUnit.Framework;
using QuantNative.Formats.Gptq;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Tests.Quantization;

namespace QuantNative.Tests.Formats.Gptq;

public class PackingTests
{
    private static readonly int[] OutCounts = [1, 3, 17, 64, 172];

    /// <summary>
    /// An arbitrary valid matrix: every code and zero in the full range 0..qmax (v1 excludes zero 0), random fp16
    /// scales over many binades (subnormals included; of either sign for a symmetric config, as learned symmetric
    /// clipping stores them), and with <paramref name="shuffledGroups"/> an act-order-like g_idx (a random permutation
    /// of the natural one).
    /// </summary>
    private static QuantizedMatrix RandomMatrix(Random random, int rows, int columns, QuantizerConfig config,
        bool shuffledGroups, int minZero)
    {
        var layout = config.Layout(columns);
        int qmax = config.MaxCode;
        var codes = new byte[rows * columns];
        for (int i = 0; i < codes.Length; i++) codes[i] = (byte)random.Next(qmax + 1);
        var scales = new float[rows * layout.Groups];
        for (int i = 0; i < scales.Length; i++)
            scales[i] = (float)(Half)(MathF.Exp(random.NextSingle() * 20f - 14f) + 1e-7f) * (config.Symmetric && random.Next(2) == 1 ? -1 : 1);
        var zeros = new int[rows * layout.Groups];
        for (int i = 0; i < zeros.Length; i++) zeros[i] = random.Next(minZero, qmax + 1);
        var gIdx = QuantizedMatrix.NaturalGroupIndex(layout);
        if (shuffledGroups) random.Shuffle(gIdx);
        return new QuantizedMatrix(rows, columns, config, codes, scales, zeros, gIdx);
    }

    private static void AssertSame(QuantizedMatrix actual, QuantizedMatrix expected, string what)
    {
        Assert.That((actual.Rows, actual.Columns), Is.EqualTo((expected.Rows, expected.Columns)), what);
        Assert.That((actual.Config.Bits, actual.Config.GroupSize, actual.Config.Symmetric),
            Is.EqualTo((expected.Config.Bits, expected.Config.GroupSize, expected.Config.Symmetric)), what);
        Assert.That(actual.Codes, Is.EqualTo(expected.Codes), $"{what}: codes");
        Assert.That(actual.Zeros, Is.EqualTo(expected.Zeros), $"{what}: zeros");
        Assert.That(actual.GroupIndex, Is.EqualTo(expected.GroupIndex), $"{what}: g_idx");
        Assert.That(actual.Scales.Select(BitConverter.SingleToInt32Bits),
            Is.EqualTo(expected.Scales.Select(BitConverter.SingleToInt32Bits)), $"{what}: scales");
        RtnTests.AssertBitwiseEqual(actual.Dequantize(), expected.Dequantize(), $"{what}: dequantized");
    }

    [Test]
    public void RoundTripIsBitExact([ValueSource(typeof(QuantTestData), nameof(QuantTestData.Bits))] int bits,
        [Values(GptqCheckpointFormat.V1, GptqCheckpointFormat.V2)] GptqCheckpointFormat format)
    {
        var random = new Random(bits * 10 + (int)format);
        int cases = 0;
        foreach (int rows in OutCounts)
        foreach (int columns in QuantTestData.ColumnCounts)
        foreach (int group in QuantTestData.GroupSizes)
        foreach (bool shuffled in new[] { false, true })
        {
            string what = $"W{bits} v{(int)format} [{rows}, {columns}] g{group}{(shuffled ? " act-order" : "")}";
            var config = new QuantizerConfig(bits, group, symmetric: random.Next(2) == 1);
            var m = RandomMatrix(random, rows, columns, config, shuffled, format == GptqCheckpointFormat.V1 ? 1 : 0);
            var packed = GptqPacker.Pack(m, format, what);
            Assert.That(packed.QWeight.Length, Is.EqualTo(BitStream32.Words(columns, bits) * rows), $"{what}: qweight");
            Assert.That(packed.QZeros.Length, Is.EqualTo(m.Groups * BitStream32.Words(rows, bits)), $"{what}: qzeros");
            Assert.That(packed.Scales.Length, Is.EqualTo(m.Groups * rows), $"{what}: scales");
            AssertSame(GptqPacker.Unpack(packed, what), m, what);
            cases++;
        }
        Assert.That(cases, Is.EqualTo(150));
    }

    [Test]
    public void RoundTripOfRtnOutput([ValueSource(typeof(QuantTestData), nameof(QuantTestData.Bits))] int bits)
    {
        // The path the exporter takes, with QuantTestData's non-negative rows giving zero points of 0 (v2 keeps them).
        var random = new Random(bits);
        var w = QuantTestData.Weights(random, 172, 100);
        var m = Rtn.Quantize(w, 172, 100, new QuantizerConfig(bits, 32));
        Assert.That(m.Zeros, Does.Contain(0), "the data must exercise zero point 0");
        AssertSame(GptqPacker.Unpack(GptqPacker.Pack(m, GptqCheckpointFormat.V2)), m, $"W{bits} RTN");
    }

    [Test]
    public void LayoutMatchesAutoGptqWordForWord([ValueSource(typeof(QuantTestData), nameof(QuantTestData.Bits))] int bits,
        [Values(GptqCheckpointFormat.V1, GptqCheckpointFormat.V2)] GptqCheckpointFormat format)
    {
        var random = new Random(bits + 100);
        const int rows = 64, columns = 128;
        var config = new QuantizerConfig(bits, 32);
        var m = RandomMatrix(random, rows, columns, config, shuffledGroups: false, minZero: 1);
        var packed = GptqPacker.Pack(m, format);
        Assert.That(packed.HasRuntimeShapes, Is.True);
        Assert.That(packed.QWeightShape, Is.EqualTo((columns / 32 * bits, rows)), "AutoGPTQ's qweight shape");
        Assert.That(packed.QZerosShape, Is.EqualTo((columns / 32, rows / 32 * bits)), "AutoGPTQ's qzeros shape");

        var (wordRows, _) = packed.QWeightShape;
        for (int o = 0; o < rows; o++)
        {
            var expected = AutoGptqLayoutOracle.Pack(Enumerable.Range(0, columns).Select(c => (int)m.Codes[o * columns + c]).ToArray(), bits);
            var actual = Enumerable.Range(0, wordRows).Select(w => (uint)packed.QWeight[w * rows + o]).ToArray();
            Assert.That(actual, Is.EqualTo(expected), $"qweight column {o}");
        }
        int shift = format == GptqCheckpointFormat.V1 ? 1 : 0;
        var (_, zeroWords) = packed.QZerosShape;
        for (int g = 0; g < m.Groups; g++)
        {
            var expected = AutoGptqLayoutOracle.Pack(Enumerable.Range(0, rows).Select(o => m.Zeros[o * m.Groups + g] - shift).ToArray(), bits);
            Assert.That(packed.QZeros.Skip(g * zeroWords).Take(zeroWords).Select(x => (uint)x), Is.EqualTo(expected),
                $"qzeros row {g} (v{(int)format} stores zero{(shift == 1 ? " − 1" : "")})");
        }
        for (int g = 0; g < m.Groups; g++)
        for (int o = 0; o < rows; o++)
            Assert.That(packed.Scales[g * rows + o], Is.EqualTo(BitConverter.HalfToUInt16Bits((Half)m.Scales[o * m.Groups + g])));
    }

    [Test]
    public void ThreeBitValuesStraddleWords()
    {
        // Values 10 and 21 of every 32 are split across words; all-ones in just those positions must set exactly the
        // bits AutoGPTQ's scheme names: bits 30–31 of word 0 and bit 0 of word 1; bit 31 of word 1 and bits 0–1 of word 2.
        var values = new int[32];
        values[10] = 7;
        values[21] = 7;
        var words = new int[3];
        BitStream32.Pack(values, 1, 32, 3, words, 1);
        Assert.That(words.Select(w => (uint)w), Is.EqualTo(new uint[] { 0xC000_0000u, 0x8000_0001u, 0x0000_0003u }));
        var back = new int[32];
        BitStream32.Unpack(words, 1, 32, 3, back, 1);
        Assert.That(back, Is.EqualTo(values));
    }

    [Test]
    public void SizesThatDoNotFillTheLastWordArePaddedWithZeroBits()
    {
        var config = new QuantizerConfig(3, 64);
        var m = RandomMatrix(new Random(5), 17, 100, config, false, 0);
        var packed = GptqPacker.Pack(m, GptqCheckpointFormat.V2);
        Assert.That(packed.QWeightShape, Is.EqualTo((10, 17)), "300 bits in 10 words");
        Assert.That(packed.QZerosShape, Is.EqualTo((2, 2)), "51 bits in 2 words");
        Assert.That(packed.HasRuntimeShapes, Is.False);
        for (int o = 0; o < 17; o++)
            Assert.That((uint)packed.QWeight[9 * 17 + o] >> 12, Is.Zero, "bits past value 99 of the last word");
    }

    [Test]
    public void V1RefusesZeroPointZeroAndNamesTheTensor()
    {
        var config = new QuantizerConfig(4, 32);
        var m = RandomMatrix(new Random(6), 17, 64, config, false, 1);
        m.Zeros[5] = 0;
        m.Zeros[20] = 0;
        Assert.That(() => GptqPacker.Pack(m, GptqCheckpointFormat.V1, "model.layers.0.mlp.up_proj"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("model.layers.0.mlp.up_proj")
                .And.Message.Contains("2 of 34 groups").And.Message.Contains("v2"));
        Assert.That(() => GptqPacker.Pack(m, GptqCheckpointFormat.V2), Throws.Nothing);
    }

    [Test]
    public void V1ClampMovesZeroToOneAndChangesOnlyCodesAtQmax([ValueSource(typeof(QuantTestData), nameof(QuantTestData.Bits))] int bits)
    {
        var random = new Random(bits + 7);
        var config = new QuantizerConfig(bits, 32);
        var m = RandomMatrix(random, 17, 100, config, shuffledGroups: true, minZero: 0);
        for (int i = 0; i < m.Zeros.Length; i += 3) m.Zeros[i] = 0;
        int zeroGroups = m.Zeros.Count(z => z == 0);
        int atQmaxInZeroGroups = 0;
        for (int i = 0; i < m.Codes.Length; i++)
            if (m.Zeros[i / 100 * m.Groups + m.GroupIndex[i % 100]] == 0 && m.Codes[i] == config.MaxCode) atQmaxInZeroGroups++;

        var clamped = V1Zeros.ClampToOne(m);
        Assert.That(clamped.ClampedGroups, Is.EqualTo(zeroGroups));
        Assert.That(clamped.ClippedCodes, Is.EqualTo(atQmaxInZeroGroups));
        Assert.That(clamped.Matrix.Zeros, Does.Not.Contain(0));

        var before = m.Dequantize();
        var after = clamped.Matrix.Dequantize();
        int changed = 0;
        for (int i = 0; i < before.Length; i++)
        {
            if (before[i] == after[i]) continue;
            changed++;
            float s = m.Scales[i / 100 * m.Groups + m.GroupIndex[i % 100]];
            Assert.That(m.Codes[i], Is.EqualTo(config.MaxCode), $"element {i} changed but was not at qmax");
            Assert.That(before[i] - after[i], Is.EqualTo(s).Within(1e-6 * s), $"element {i} loses one step");
        }
        Assert.That(changed, Is.EqualTo(atQmaxInZeroGroups));

        var packed = GptqPacker.Pack(clamped.Matrix, GptqCheckpointFormat.V1);
        AssertSame(GptqPacker.Unpack(packed), clamped.Matrix, $"W{bits} clamped v1");
    }

    [Test]
    public void V1ReaderRefusesAWrappedZero()
    {
        var m = RandomMatrix(new Random(8), 32, 64, new QuantizerConfig(4, 32), false, 1);
        var packed = GptqPacker.Pack(m, GptqCheckpointFormat.V1, "w");
        packed.QZeros[0] |= 0xF; // output 0 of group 0 stores 15: a zero of 16 in v1
        Assert.That(() => GptqPacker.Unpack(packed, "blk.3.wv"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("blk.3.wv").And.Message.Contains("16"));
    }

    [Test]
    public void UnpackRefusesWrongShapes()
    {
        var m = RandomMatrix(new Random(9), 17, 64, new QuantizerConfig(3, 32), false, 1);
        var packed = GptqPacker.Pack(m, GptqCheckpointFormat.V2);
        var truncated = new PackedGptqLinear
        {
            Bits = 3, InFeatures = 64, OutFeatures = 17, GroupSize = 32, Symmetric = false, Format = GptqCheckpointFormat.V2,
            QWeight = packed.QWeight[..^1], QZeros = packed.QZeros, Scales = packed.Scales, GIdx = packed.GIdx,
        };
        Assert.That(() => GptqPacker.Unpack(truncated, "blk.0.wo"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("blk.0.wo.qweight").And.Message.Contains("[6, 17]"));
        var badBits = new PackedGptqLinear
        {
            Bits = 5, InFeatures = 64, OutFeatures = 17, GroupSize = 32, Symmetric = false, Format = GptqCheckpointFormat.V2,
            QWeight = packed.QWeight, QZeros = packed.QZeros, Scales = packed.Scales, GIdx = packed.GIdx,
        };
        Assert.That(() => GptqPacker.Unpack(badBits), Throws.InstanceOf<QuantNativeException>().With.Message.Contains("5"));
        // W5/W6 codes exist (for GGUF) but have no GPTQ packing.
        var w5 = RandomMatrix(new Random(5), 3, 64, new QuantizerConfig(5, 32), false, 0);
        Assert.That(() => GptqPacker.Pack(w5, GptqCheckpointFormat.V2, "blk.0.wq"), Throws.InstanceOf<QuantNativeException>()
            .With.Message.Contains("blk.0.wq").And.Message.Contains("5-bit").And.Message.Contains("--format gguf"));
    }

    [Test]
    public void MatrixRefusesScalesThatFp16CannotHold()
    {
        var m = RandomMatrix(new Random(10), 3, 64, new QuantizerConfig(4), false, 0);
        var scales = (float[])m.Scales.Clone();
        scales[1] = 0.1f; // not an fp16 value
        Assert.That(() => new QuantizedMatrix(3, 64, m.Config, m.Codes, scales, m.Zeros, m.GroupIndex, "blk.1.wq"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("blk.1.wq").And.Message.Contains("fp16"));
        scales = (float[])m.Scales.Clone();
        scales[2] = -scales[2];
        Assert.That(() => new QuantizedMatrix(3, 64, m.Config, m.Codes, scales, m.Zeros, m.GroupIndex, "blk.1.wq"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("positive"), "an asymmetric group's scale is positive");
        var sym = new QuantizerConfig(m.Config.Bits, m.Config.GroupSize, symmetric: true);
        Assert.That(new QuantizedMatrix(3, 64, sym, m.Codes, scales, m.Zeros, m.GroupIndex).Scales[2], Is.Negative,
            "a symmetric group's scale may be negative");
        scales[2] = 0f;
        Assert.That(() => new QuantizedMatrix(3, 64, sym, m.Codes, scales, m.Zeros, m.GroupIndex, "blk.1.wq"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("nonzero"));
        var codes = (byte[])m.Codes.Clone();
        codes[2] = 16;
        Assert.That(() => new QuantizedMatrix(3, 64, m.Config, codes, m.Scales, m.Zeros, m.GroupIndex),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("qmax"));
    }
}
