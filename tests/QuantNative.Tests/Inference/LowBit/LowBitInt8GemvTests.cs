using NUnit.Framework;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Model.Quantized;
using QuantNative.Verification;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>
/// The int8-activation decode GEMV (<see cref="DecodeActivations.Int8"/>, W4, W3 and W2): x's rounding against its definition, the
/// kernel (AVX-512BW and AVX2, through <see cref="LowBitCpuLinear.Forward"/>) against its specification in double
/// (<see cref="LowBitInt8Row.Reference"/>: the same rounded x, exact integer dots), and against the float32 product of
/// the dequantized weights within the bound the rounding of x implies, Σ_k |ŵ_k|·d_c/2 — W4, W3 and W2, groups of one,
/// two and four chunks and per-channel (W3: one chunk, two, four), act-order, awkward shapes (1, 3, 17, 172 rows and columns, tails of a step).
/// </summary>
public class LowBitInt8GemvTests
{
    private static readonly (int N, int K)[] Shapes = [(1, 1), (3, 3), (17, 17), (172, 172), (37, 200), (20, 300), (5, 1024), (3, 1664)];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var (bits, group) in new[] { (4, 32), (4, 64), (4, 128), (4, -1), (2, 64), (2, 128), (2, 256), (2, -1), (3, 128), (3, 256), (3, 512), (3, -1) })
        foreach (bool actOrder in new[] { false, true })
        foreach (bool avx512 in new[] { true, false })
            yield return new TestCaseData(bits, group, actOrder, avx512).SetName(
                $"W{bits} {(group < 0 ? "per-channel" : $"g{group}")}{(actOrder ? " act-order" : "")} {(avx512 ? "AVX-512" : "AVX2")}");
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardMatchesItsSpecificationAndTheRoundingBound(int bits, int group, bool actOrder, bool avx512)
    {
        if (avx512 && !System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) Assert.Ignore("no AVX-512BW here");
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) Assert.Ignore("no AVX2 here: the float path runs");
        bool saved = LowBitInt8Row.UseAvx512;
        LowBitInt8Row.UseAvx512 = avx512;
        try
        {
            var r = new Random(bits * 1000 + group + (actOrder ? 7 : 0));
            foreach (var (n, k) in Shapes)
                Check(r, n, k, bits, group, actOrder);
        }
        finally { LowBitInt8Row.UseAvx512 = saved; }
    }

    private static void Check(Random r, int n, int k, int bits, int group, bool actOrder)
    {
        var weights = LowBitRepack.FromGptq(LowBitCpuLinearTests.Layer(r, n, k, bits, group, actOrder));
        Assert.That(LowBitInt8Row.Supported(bits, weights.Groups, weights.GroupLength / weights.ChunkLength), Is.True,
            $"W{bits} g{group} [{n}, {k}] should take the int8 kernel");
        var linear = LowBitCpuLinear.Of(weights, "test");
        Assert.That(linear.DecodeActivations, Is.EqualTo(DecodeActivations.Float32), "the library's default");
        linear.DecodeActivations = DecodeActivations.Int8;
        var dequantized = weights.Dequantize();
        int kc = weights.ChunkLength, chunks = weights.Chunks;
        foreach (int tokens in new[] { 1, 3 })
        {
            var x = new float[tokens * k];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1) * (i % 7 == 0 ? 4f : 1f);
            var actual = Enumerable.Repeat(float.NaN, tokens * n).ToArray();
            linear.Forward(x, actual, tokens, accumulate: false);
            for (int t = 0; t < tokens; t++)
            {
                // x in layout order, rounded as the kernel rounds it.
                var layout = Enumerable.Range(0, k).Select(i => x[t * k + weights.InputColumn(i)]).ToArray();
                var xi = new sbyte[chunks * kc];
                var d = new float[chunks];
                Assert.That(Int8Activations.Quantize(layout, kc, xi, d), Is.True);
                for (int o = 0; o < n; o++)
                {
                    double spec = LowBitInt8Row.Reference(weights, o, xi, d);
                    double magnitude = 0, exact = 0, rounding = 0;
                    for (int i = 0; i < k; i++)
                    {
                        int g = i / weights.GroupLength, c = i / kc;
                        magnitude += Math.Abs((double)weights.Scale(o, g) * d[c] * xi[i]) * (weights.Code(o, i) + Math.Abs(weights.Zero(o, g)));
                        double w = dequantized[(long)o * k + weights.InputColumn(i)];
                        exact += w * layout[i];
                        rounding += Math.Abs(w) * d[c] / 2;
                    }
                    float y = actual[t * n + o];
                    string where = $"W{bits} g{group} [{n}, {k}] tokens {tokens}: y[{t}, {o}] = {y}";
                    Assert.That(Math.Abs(y - spec), Is.LessThanOrEqualTo(Tolerances.CpuInt8GemvRoundingRel * magnitude + 1e-30),
                        $"{where}, specification {spec}");
                    Assert.That(Math.Abs(y - exact), Is.LessThanOrEqualTo(rounding * (1 + Tolerances.Int8ActivationRoundingSlack) +
                        Tolerances.CpuInt8GemvRoundingRel * magnitude + 1e-30), $"{where}, float32 product {exact}");
                }
            }

            // accumulate adds to what y holds.
            var accumulated = Enumerable.Repeat(1f, tokens * n).ToArray();
            linear.Forward(x, accumulated, tokens, accumulate: true);
            for (int i = 0; i < accumulated.Length; i++)
                Assert.That(accumulated[i], Is.EqualTo(actual[i] + 1f).Within(1e-5 * Math.Max(1, Math.Abs(actual[i]))));
        }
    }

    [Test]
    public void RoundingIsWithinHalfAStepAndUsesTheWholeRange()
    {
        var r = new Random(3);
        foreach (int length in new[] { 1, 31, 32, 33, 100 })
        foreach (int kc in new[] { 32, 64, 128 })
        {
            var x = Enumerable.Range(0, length).Select(_ => (float)(r.NextDouble() * 6 - 3)).ToArray();
            if (length > 40) Array.Clear(x, 0, Math.Min(kc, length)); // a chunk of zeros: d = 0, every xi 0
            int chunks = (length + kc - 1) / kc;
            var xi = new sbyte[chunks * kc];
            var d = new float[chunks];
            Assert.That(Int8Activations.Quantize(x, kc, xi, d), Is.True);
            for (int c = 0; c < chunks; c++)
            {
                int first = c * kc, len = Math.Min(kc, length - first);
                float amax = x.Skip(first).Take(len).Max(Math.Abs);
                Assert.That(d[c], Is.EqualTo(amax / 127f), $"chunk {c}'s scale");
                if (amax > 0) Assert.That(xi.Skip(first).Take(len).Max(v => Math.Abs((int)v)), Is.EqualTo(127), "max|x| maps to 127");
                for (int i = first; i < first + len; i++)
                    Assert.That(Math.Abs(x[i] - d[c] * xi[i]), Is.LessThanOrEqualTo(d[c] / 2 * (1 + Tolerances.Int8ActivationRoundingSlack)),
                        $"x[{i}] = {x[i]} as {xi[i]}·{d[c]}");
                for (int i = first + len; i < first + kc; i++) Assert.That(xi[i], Is.Zero, "padding");
            }
        }
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    public void ANonFiniteActivationReachesTheOutput(float bad)
    {
        var weights = LowBitRepack.FromGptq(LowBitInputs.Packed(new Random(1), 4, 256, 4, 128, GptqCheckpointFormat.V2));
        var linear = LowBitCpuLinear.Of(weights, "test");
        linear.DecodeActivations = DecodeActivations.Int8;
        var x = Enumerable.Range(0, 256).Select(i => (float)Math.Sin(i)).ToArray();
        x[77] = bad;
        var y = new float[4];
        linear.Forward(x, y, 1, accumulate: false);
        Assert.That(y.All(v => !float.IsFinite(v)), Is.True, $"y = [{string.Join(", ", y)}]: the {bad} in x vanished");
    }

    /// <summary>q, k and v (and gate, up) through one shared preparation of x and one parallel loop give what each
    /// linear's own Forward gives, bit for bit, for 1 and 3 tokens, with row counts that end inside a block.</summary>
    [TestCase(4, 128)]
    [TestCase(3, 128)]
    [TestCase(2, 64)]
    [TestCase(4, -1)]
    public void LinearsReadingTheSameXTogetherEqualEachAlone(int bits, int group)
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) Assert.Ignore("no AVX2 here: the float path runs");
        var r = new Random(bits + group);
        int k = 384;
        var linears = new[] { 40, 17, 33 }.Select((n, i) =>
        {
            var l = LowBitCpuLinear.Of(LowBitRepack.FromGptq(LowBitCpuLinearTests.Layer(r, n, k, bits, group, false)), $"l{i}");
            l.DecodeActivations = DecodeActivations.Int8;
            return l;
        }).ToArray();
        foreach (int tokens in new[] { 1, 3 })
        {
            var x = Enumerable.Range(0, tokens * k).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            var alone = linears.Select(l =>
            {
                var y = new float[tokens * l.OutFeatures];
                l.Forward(x, y, tokens, accumulate: false);
                return y;
            }).ToArray();
            var together = linears.Select(l => Enumerable.Repeat(float.NaN, tokens * l.OutFeatures).ToArray()).ToArray();
            Assert.That(linears[0].TryForwardTogether(x, tokens, together[0], linears[1], together[1], linears[2], together[2]), Is.True);
            for (int i = 0; i < 3; i++) Assert.That(together[i], Is.EqualTo(alone[i]), $"linear {i}, {tokens} tokens, three together");
            var pair = linears.Take(2).Select(l => Enumerable.Repeat(float.NaN, tokens * l.OutFeatures).ToArray()).ToArray();
            QuantNative.Cpu.Weights.SharedInputLinears.Forward(x, tokens, linears[0], pair[0], linears[1], pair[1]);
            for (int i = 0; i < 2; i++) Assert.That(pair[i], Is.EqualTo(alone[i]), $"linear {i}, {tokens} tokens, two together");
        }
    }

    [Test]
    public void LinearsThatCannotShareXAreRunOneByOne()
    {
        var r = new Random(9);
        LowBitCpuLinear Make(int n, int k, int bits, int group, bool actOrder, DecodeActivations mode = DecodeActivations.Int8)
        {
            var l = LowBitCpuLinear.Of(LowBitRepack.FromGptq(LowBitCpuLinearTests.Layer(r, n, k, bits, group, actOrder)), "l");
            l.DecodeActivations = mode;
            return l;
        }
        var a = Make(16, 256, 4, 128, false);
        var x = Enumerable.Range(0, 256 * 17).Select(i => (float)Math.Sin(i)).ToArray();
        var y1 = new float[17 * 16];
        var y2 = new float[17 * 16];
        var cases = new (string Why, LowBitCpuLinear Other, int Tokens)[]
        {
            ("another width", Make(16, 256, 2, 128, false), 1),
            ("another group size", Make(16, 256, 4, 64, false), 1),
            ("another K", Make(16, 128, 4, 128, false), 1),
            ("act-order", Make(16, 256, 4, 128, true), 1),
            ("float32 decode", Make(16, 256, 4, 128, false, DecodeActivations.Float32), 1),
            ("more tokens than the GEMV takes", Make(16, 256, 4, 128, false), LowBitCpuLinear.GemvTokens + 1),
        };
        foreach (var (why, other, tokens) in cases)
        {
            Array.Fill(y1, float.NaN);
            Assert.That(a.TryForwardTogether(x.AsSpan(0, tokens * 256), tokens, y1, other, y2, null, default), Is.False, why);
            Assert.That(y1.All(float.IsNaN), Is.True, $"{why}: nothing may be written");
        }
    }
}
