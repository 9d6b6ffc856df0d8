using NUnit.Framework;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Model.Quantized;

using QuantNative.Verification;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>
/// The CPU low-bit linear (LowBitCpuLinear) against the C# reference LowBitLinear.ForwardCpu (the whole Ŵ dequantized,
/// one float32 GEMM): W2/W3/W4, groups of 32 and 128 (with tails) and per-channel, natural and act-order group
/// order, on awkward shapes (1, 3, 17, 172 rows and columns), in its decode path (GEMV, 1 and 3 tokens) and its
/// prefill path (tiled GEMM, 5 and 17 tokens); and the vectorised code decode code for code against the scalar one
/// and the layout's own accessor.
/// </summary>
public class LowBitCpuLinearTests
{
    private static readonly (int N, int K)[] Shapes = [(1, 1), (3, 3), (17, 17), (172, 172), (37, 200)];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (int bits in new[] { 2, 3, 4 })
        foreach (int group in new[] { 32, 128, -1 })
        foreach (bool actOrder in new[] { false, true })
            yield return new TestCaseData(bits, group, actOrder)
                .SetName($"W{bits} {(group < 0 ? "per-channel" : $"g{group}")}{(actOrder ? " act-order" : "")}");
    }

    /// <summary>A random matrix; with act-order its columns are assigned to groups in a random order (as GPTQ's
    /// desc_act does by Hessian diagonal), so g_idx is not monotone.</summary>
    internal static PackedGptqLinear Layer(Random r, int n, int k, int bits, int group, bool actOrder, bool signed = false)
    {
        var m = LowBitInputs.Matrix(r, n, k, bits, group, GptqCheckpointFormat.V2, signed);
        if (actOrder && group > 0)
        {
            var order = Enumerable.Range(0, k).ToArray();
            r.Shuffle(order);
            var gidx = new int[k];
            for (int j = 0; j < k; j++) gidx[order[j]] = j / group;
            m = new QuantizedMatrix(n, k, m.Config, m.Codes, m.Scales, m.Zeros, gidx);
        }
        return GptqPacker.Pack(m, GptqCheckpointFormat.V2);
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardMatchesTheDequantizedReference(int bits, int group, bool actOrder) => Check(bits, group, actOrder);

    /// <summary>The same through the AVX2 kernel where the machine would take AVX-512 (W4 and W2 GEMV).</summary>
    [TestCase(4, 32)]
    [TestCase(4, -1)]
    [TestCase(2, 128)]
    public void TheAvx2KernelMatchesTheReferenceToo(int bits, int group)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Ignore("no AVX-512 here: the AVX2 kernel is the one the other cases run");
        LowBitGemvRow.UseAvx512 = false;
        try { Check(bits, group, actOrder: false); }
        finally { LowBitGemvRow.UseAvx512 = true; }
    }

    /// <summary>Symmetric groups with negative scales (learned symmetric clipping's z = h − 1 groups, stored flipped):
    /// the layout keeps the sign, and the forward is the signed matrix's.</summary>
    [TestCase(4, 32)]
    [TestCase(3, 128)]
    [TestCase(2, -1)]
    public void SignedSymmetricScalesMatchTheDequantizedReference(int bits, int group) =>
        Check(bits, group, actOrder: false, signed: true);

    private static void Check(int bits, int group, bool actOrder, bool signed = false)
    {
        var r = new Random(bits * 100 + group + (actOrder ? 7 : 0));
        int negativeScales = 0;
        foreach (var (n, k) in Shapes)
        {
            var packed = Layer(r, n, k, bits, group, actOrder, signed);
            var weights = LowBitRepack.FromGptq(packed);
            if (signed)
            {
                var m = GptqPacker.Unpack(packed);
                negativeScales += m.Scales.Count(s => s < 0);
                QuantNative.Tests.Quantization.RtnTests.AssertBitwiseEqual(weights.Dequantize(), m.Dequantize(), "the layout holds the signed matrix");
            }
            // The float32 decode path, the default (the int8 one has its own tests: LowBitInt8GemvTests).
            var linear = LowBitCpuLinear.Of(weights, "test");
            var reference = new LowBitLinear(weights);
            var dequantized = weights.Dequantize();
            foreach (int tokens in new[] { 1, 3, 5, 17 })
            {
                var xh = LowBitInputs.Activations(r, tokens, k);
                var x = xh.Select(v => (float)v).ToArray();
                var expected = new float[tokens * n];
                reference.ForwardCpu(xh, tokens, expected);
                var actual = Enumerable.Repeat(float.NaN, tokens * n).ToArray();
                linear.Forward(x, actual, tokens, accumulate: false);
                double tolerance = tokens <= LowBitCpuLinear.GemvTokens ? Tolerances.CpuLowBitGemvRel : Tolerances.LowBitGemvSumRel;
                for (int t = 0; t < tokens; t++)
                for (int o = 0; o < n; o++)
                {
                    double scale = 0;
                    for (int c = 0; c < k; c++) scale += Math.Abs(x[t * k + c] * dequantized[o * k + c]);
                    Assert.That(Math.Abs(actual[t * n + o] - expected[t * n + o]), Is.LessThanOrEqualTo(tolerance * scale + 1e-30),
                        $"[{n}, {k}] tokens {tokens}: y[{t}, {o}] = {actual[t * n + o]}, reference {expected[t * n + o]}");
                }

                // accumulate adds to what y holds.
                var accumulated = Enumerable.Repeat(1f, tokens * n).ToArray();
                linear.Forward(x, accumulated, tokens, accumulate: true);
                for (int i = 0; i < accumulated.Length; i++)
                    Assert.That(accumulated[i], Is.EqualTo(actual[i] + 1f).Within(1e-5 * Math.Max(1, Math.Abs(actual[i]))));
            }
        }
        if (signed) Assert.That(negativeScales, Is.GreaterThan(0), "some scales were negative");
    }

    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    public void VectorDecodeEqualsScalarDecodeEqualsTheLayout(int bits)
    {
        foreach (int k in new[] { 1, 200, 256, 300 })
        {
            var w = LowBitRepack.FromGptq(LowBitInputs.Packed(new Random(k + bits), 5, k, bits, 32, GptqCheckpointFormat.V2));
            int padded = w.Chunks * w.ChunkLength;
            var vector = new float[padded];
            var scalar = new float[padded];
            for (int n = 0; n < w.N; n++)
            {
                LowBitCodes.Decode(bits, w.Chunks, LowBitCodes.Row(w, n), vector);
                LowBitCodes.Decode(bits, w.Chunks, LowBitCodes.Row(w, n), scalar, vectorized: false);
                Assert.That(vector, Is.EqualTo(scalar), $"W{bits} K {k} row {n}");
                for (int c = 0; c < padded; c++) Assert.That(scalar[c], Is.EqualTo(w.Code(n, c)), $"code [{n}, {c}]");
            }
        }
    }
}
