using NUnit.Framework;
using QuantNative.Inference.LowBit;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>
/// <see cref="Int8Activations.Prepare"/>, the vector form of x's rounding and arrangement for the int8 decode GEMV,
/// against its element-by-element specification (<see cref="Int8Activations.Quantize"/> then
/// <see cref="Int8Activations.Arrange"/>), bit for bit in every output: W4, W3 and W2, groups of one, two and four
/// chunks and a single group, lengths with chunk and step tails, ties of the rounding, a chunk of zeros, −0, and a
/// non-finite value anywhere.
/// </summary>
public class Int8ActivationsTests
{
    private static readonly int[] Lengths = [1, 3, 17, 31, 32, 33, 64, 100, 127, 128, 172, 200, 300, 1024, 1664, 2048, 5632];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (int bits in new[] { 4, 3, 2 })
        foreach (int chunksPerGroup in new[] { 1, 2, 4, 8, int.MaxValue })
            yield return new TestCaseData(bits, chunksPerGroup).SetName(
                $"W{bits} {(chunksPerGroup == int.MaxValue ? "one group" : $"{chunksPerGroup} chunks per group")}");
    }

    [TestCaseSource(nameof(Cases))]
    public void PrepareEqualsQuantizeThenArrangeBitForBit(int bits, int chunksPerGroup)
    {
        if (!Int8Activations.Vectorized) Assert.Ignore("no AVX2 here: Prepare runs the specification itself");
        var r = new Random(bits * 31 + chunksPerGroup % 97);
        foreach (int k in Lengths)
        foreach (var kind in new[] { "uniform", "ties", "zeros" })
        {
            var x = Values(r, k, kind);
            Compare(bits, chunksPerGroup, x, $"W{bits} K = {k} {kind}");
        }
    }

    /// <summary>The specification against its definition: each chunk's scale is max|x|/127, every x rounds to the
    /// nearest multiple of it (within half a step, |q| ≤ 127, ±127 at the chunk's largest magnitude), the padding past K
    /// is zero. Then the scalar fallback (no AVX2, or UseVectors off) gives exactly those outputs through Prepare.</summary>
    [Test]
    public void TheSpecificationRoundsEachChunkToInt8OfItsMax()
    {
        foreach (var (bits, k, kind, seed) in new[] { (4, 300, "uniform", 5), (3, 200, "ties", 6), (2, 172, "zeros", 7) })
        {
            var x = Values(new Random(seed), k, kind);
            int kc = LowBitWeights.ChunkLengthOf(bits), chunks = (k + kc - 1) / kc;
            var xi = new sbyte[chunks * kc];
            var d = new float[chunks];
            Assert.That(Int8Activations.Quantize(x, kc, xi, d), Is.True);
            for (int c = 0; c < chunks; c++)
            {
                int first = c * kc, len = Math.Min(kc, k - first);
                float amax = 0;
                for (int i = first; i < first + len; i++) amax = Math.Max(amax, Math.Abs(x[i]));
                Assert.That(d[c], Is.EqualTo(amax / 127f), $"W{bits} chunk {c}: d = max|x|/127");
                for (int i = first; i < first + kc; i++)
                {
                    if (i >= first + len)
                    {
                        Assert.That(xi[i], Is.Zero, $"padding {i}");
                        continue;
                    }
                    Assert.That(Math.Abs((int)xi[i]), Is.LessThanOrEqualTo(127));
                    double err = Math.Abs(xi[i] * (double)d[c] - x[i]);
                    Assert.That(err, Is.LessThanOrEqualTo(0.5 * d[c] * (1 + 1e-6) + 1e-30), $"W{bits} x[{i}] = {x[i]}, q {xi[i]}, d {d[c]}");
                    if (amax > 0 && Math.Abs(x[i]) == amax) Assert.That(Math.Abs((int)xi[i]), Is.EqualTo(127), $"the largest |x| of chunk {c}");
                }
            }
        }

        bool saved = Int8Activations.UseVectors;
        Int8Activations.UseVectors = false;
        try
        {
            Assert.That(Int8Activations.Vectorized, Is.False);
            Compare(4, 4, Values(new Random(5), 300, "uniform"), "fallback W4 K = 300");
            Compare(3, 1, Values(new Random(6), 200, "ties"), "fallback W3 K = 200");
        }
        finally { Int8Activations.UseVectors = saved; }
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    public void ANonFiniteValueAnywhereIsRefused(float bad)
    {
        foreach (int bits in new[] { 4, 3, 2 })
        foreach (int at in new[] { 0, 31, 32, 99, 171 })
        {
            var x = Values(new Random(at), 172, "uniform");
            x[at] = bad;
            int kc = LowBitWeights.ChunkLengthOf(bits), chunks = (x.Length + kc - 1) / kc;
            Assert.That(Int8Activations.Prepare(bits, chunks, 1, x, new sbyte[chunks * kc], new float[chunks],
                new sbyte[Int8Activations.ArrangedBytes(bits, chunks)], new float[Int8Activations.LaneCount(chunks)], new float[chunks]),
                Is.False, $"W{bits}: {bad} at {at}");
        }
    }

    /// <summary>Uniform values; values whose x/d lands on k + ½ (ties, rounded to even) with max|x| = 127·d exactly;
    /// or the first chunk of zeros (and a −0) with the rest uniform.</summary>
    private static float[] Values(Random r, int k, string kind)
    {
        var x = new float[k];
        for (int i = 0; i < k; i++)
        {
            x[i] = kind switch
            {
                "ties" => (i % 5 == 0 ? 127f : r.Next(-126, 127) + 0.5f) * 0.25f * (i % 2 == 0 ? 1 : -1),
                _ => (float)(r.NextDouble() * 2 - 1) * (i % 7 == 0 ? 8f : 1f),
            };
        }
        if (kind == "zeros")
        {
            Array.Clear(x, 0, Math.Min(k, 32));
            x[0] = -0f;
        }
        return x;
    }

    private static void Compare(int bits, int chunksPerGroup, float[] x, string what)
    {
        int kc = LowBitWeights.ChunkLengthOf(bits), chunks = (x.Length + kc - 1) / kc;
        int groups = chunksPerGroup == int.MaxValue ? 1 : (chunks + chunksPerGroup - 1) / chunksPerGroup;
        int cpg = chunksPerGroup == int.MaxValue ? chunks : chunksPerGroup;
        int arrangedBytes = Int8Activations.ArrangedBytes(bits, chunks), lanes = Int8Activations.LaneCount(chunks);

        var xiSpec = new sbyte[chunks * kc];
        var dSpec = new float[chunks];
        Assert.That(Int8Activations.Quantize(x, kc, xiSpec, dSpec), Is.True, what);
        var arrangedSpec = new sbyte[arrangedBytes];
        var laneSpec = new float[lanes];
        var groupSpec = new float[groups];
        Int8Activations.Arrange(bits, chunks, cpg, xiSpec, dSpec, arrangedSpec, laneSpec, groupSpec);

        // Poisoned outputs: every byte and float must be written.
        var xi = Enumerable.Repeat((sbyte)0x55, chunks * kc).ToArray();
        var d = Enumerable.Repeat(float.NaN, chunks).ToArray();
        var arranged = Enumerable.Repeat((sbyte)0x55, arrangedBytes).ToArray();
        var laneD = Enumerable.Repeat(float.NaN, lanes).ToArray();
        var groupX = Enumerable.Repeat(float.NaN, groups).ToArray();
        Assert.That(Int8Activations.Prepare(bits, chunks, cpg, x, xi, d, arranged, laneD, groupX), Is.True, what);

        Assert.That(xi, Is.EqualTo(xiSpec), $"{what}: rounded x");
        Assert.That(Bits(d), Is.EqualTo(Bits(dSpec)), $"{what}: chunk scales");
        Assert.That(arranged, Is.EqualTo(arrangedSpec), $"{what}: arranged bytes");
        Assert.That(Bits(laneD), Is.EqualTo(Bits(laneSpec)), $"{what}: lane scales");
        Assert.That(Bits(groupX), Is.EqualTo(Bits(groupSpec)), $"{what}: group sums");
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
