using NUnit.Framework;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Model.Quantized;

using QuantNative.Verification;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>
/// The load-time repack GPTQ layout → low-bit kernel layout (LowBitRepack) is bit-exact against GptqPacker.Unpack:
/// every code, fp16 scale and zero point, for 2/3/4 bits, groups 32/64/128/per-channel, checkpoint formats v1 and v2,
/// with K and N that fill no whole chunk or 32-bit word (3-bit values straddling words in qweight and qzeros), and the
/// padding codes of each column's last chunk are 0.
/// </summary>
public class LowBitRepackTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (int bits in new[] { 2, 3, 4 })
        foreach (int group in new[] { 32, 64, 128, -1 })
        foreach (var format in new[] { GptqCheckpointFormat.V1, GptqCheckpointFormat.V2 })
        foreach (var (n, k) in new[] { (37, 256), (5, 200), (17, 172), (1, 17), (130, 1100) })
            yield return new TestCaseData(bits, group, format, n, k)
                .SetName($"LowBit_Repack_BitExactAgainstUnpack(W{bits}, g {group}, {format}, N {n}, K {k})");
    }

    [TestCaseSource(nameof(Cases))]
    public void Repack_BitExactAgainstUnpack(int bits, int group, GptqCheckpointFormat format, int n, int k)
    {
        int seed = Random.Shared.Next();
        TestContext.Out.WriteLine($"random seed {seed}");
        var packed = LowBitInputs.Packed(new Random(seed), n, k, bits, group, format);
        var expected = GptqPacker.Unpack(packed);
        var w = LowBitRepack.FromGptq(packed);
        var actual = w.ToQuantizedMatrix();

        Assert.That(actual.Codes, Is.EqualTo(expected.Codes), "codes");
        Assert.That(actual.Scales, Is.EqualTo(expected.Scales), "scales");
        Assert.That(actual.Zeros, Is.EqualTo(expected.Zeros), "zeros");
        Assert.That(actual.GroupIndex, Is.EqualTo(expected.GroupIndex), "g_idx");
        Assert.That(actual.Config.GroupSize, Is.EqualTo(expected.Config.GroupSize), "group size");
        Assert.That(w.Dequantize(), Is.EqualTo(expected.Dequantize()), "Ŵ");
        // The fp16 bits of the scales are carried over unchanged.
        for (int g = 0; g < w.Groups; g++)
        for (int o = 0; o < n; o++)
            Assert.That(w.ScaleZero[g * n + o] & 0xffff, Is.EqualTo((uint)packed.Scales[g * n + o]), $"scale bits [{g}, {o}]");
        int padded = w.Chunks * w.ChunkLength;
        for (int o = 0; o < n; o++)
        for (int c = k; c < padded; c++)
            Assert.That(w.Code(o, c), Is.Zero, $"padding code [{o}, {c}]");
        Assert.That(w.QWeight, Has.Length.EqualTo(LowBitWeights.QWeightWords(n, k, bits)));
    }

    [Test]
    public void Repack_StoresExactlyBitsPerWeight_WhenKFillsChunks()
    {
        foreach (int bits in new[] { 2, 3, 4 })
        {
            var w = LowBitRepack.FromGptq(LowBitInputs.Packed(new Random(1), 8, 512, bits, 128, GptqCheckpointFormat.V2));
            Assert.That(w.QWeight.LongLength * 32, Is.EqualTo(8L * 512 * bits), $"W{bits}: bits of qweight");
        }
    }

    /// <summary>An act-order-like g_idx (groups of their natural size, scattered over K) is repacked with K permuted
    /// so each group is contiguous, bit-exact in input-column order.</summary>
    [Test]
    public void Repack_ActOrder_PermutesKAndStaysBitExact()
    {
        var m = LowBitInputs.Matrix(new Random(2), 4, 64, 4, 32, GptqCheckpointFormat.V2);
        var gIdx = (int[])m.GroupIndex.Clone();
        (gIdx[0], gIdx[63]) = (gIdx[63], gIdx[0]);
        var shuffled = new QuantizedMatrix(m.Rows, m.Columns, m.Config, m.Codes, m.Scales, m.Zeros, gIdx);
        var packed = GptqPacker.Pack(shuffled, GptqCheckpointFormat.V2);
        var w = LowBitRepack.FromGptq(packed);
        Assert.That(w.Permutation, Is.Not.Null);
        Assert.That(w.Permutation![..32], Is.EqualTo(Enumerable.Range(1, 31).Append(63)), "group 0: columns 1..31 and 63");
        Assert.That(w.Permutation[32..], Is.EqualTo(Enumerable.Range(0, 1).Concat(Enumerable.Range(32, 31))), "group 1");
        var back = w.ToQuantizedMatrix();
        Assert.That(back.Codes, Is.EqualTo(shuffled.Codes), "codes");
        Assert.That(back.GroupIndex, Is.EqualTo(gIdx), "g_idx");
        Assert.That(w.Dequantize(), Is.EqualTo(shuffled.Dequantize()), "Ŵ");
    }

    [Test]
    public void Repack_RefusesGroupIndexThatIsNoPermutationOfTheGroups_NamingTheTensor()
    {
        var m = LowBitInputs.Matrix(new Random(2), 4, 64, 4, 32, GptqCheckpointFormat.V2);
        var gIdx = (int[])m.GroupIndex.Clone();
        gIdx[0] = 1; // group 0 gets 31 columns, group 1 33
        var odd = new QuantizedMatrix(m.Rows, m.Columns, m.Config, m.Codes, m.Scales, m.Zeros, gIdx);
        var packed = GptqPacker.Pack(odd, GptqCheckpointFormat.V2);
        var e = Assert.Throws<QuantNativeException>(() => LowBitRepack.FromGptq(packed, "layers.0.mlp.up_proj"));
        Assert.That(e!.Message, Does.Contain("layers.0.mlp.up_proj").And.Contain("31 input columns in group 0")
            .And.Contain("expected 32").And.Contain("act-order"));
    }

    [Test]
    public void Repack_RefusesV1ZeroOverflow()
    {
        var packed = LowBitInputs.Packed(new Random(3), 8, 64, 2, 32, GptqCheckpointFormat.V1);
        for (int i = 0; i < packed.QZeros.Length; i++) packed.QZeros[i] = -1; // every stored zero 3 → zero point 4 > qmax
        var e = Assert.Throws<QuantNativeException>(() => LowBitRepack.FromGptq(packed));
        Assert.That(e!.Message, Does.Contain("qzeros[0]").And.Contain("qmax = 3"));
    }

    [Test]
    public void Repack_Refuses8Bit()
    {
        const int bits = 8;
        var m = new QuantizedMatrix(2, 32, new QuantizerConfig(bits, 32), new byte[64], [0.5f, 0.5f], [1, 1],
            new int[32]);
        var packed = GptqPacker.Pack(m, GptqCheckpointFormat.V2);
        var e = Assert.Throws<QuantNativeException>(() => LowBitRepack.FromGptq(packed));
        Assert.That(e!.Message, Does.Contain($"{bits}-bit"));
    }
}
