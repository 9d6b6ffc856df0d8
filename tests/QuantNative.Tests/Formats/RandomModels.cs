using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Model;

namespace QuantNative.Tests.Formats;

/// <summary>Small random models with awkward sizes, and bit-exact comparison of two models.</summary>
internal static class RandomModels
{
    public static LlamaConfig Config(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, bool tied) =>
        new(dim, hidden, layers, heads, kvHeads, vocab, seqLen, RmsNormEps: 1e-5f, RopeTheta: 10000f, TieWordEmbeddings: tied);

    /// <summary>Odd sizes, grouped-query, multi-query and multi-head attention, tied and untied classifiers.</summary>
    public static IEnumerable<TestCaseData> Configs()
    {
        yield return new TestCaseData(Config(24, 37, 3, 6, 2, 53, 19, tied: true)).SetName("{m}(gqa_tied_odd)");
        yield return new TestCaseData(Config(20, 11, 2, 2, 2, 7, 5, tied: false)).SetName("{m}(mha_untied)");
        yield return new TestCaseData(Config(12, 29, 1, 3, 1, 31, 3, tied: false)).SetName("{m}(mqa_untied)");
        yield return new TestCaseData(Config(6, 5, 2, 3, 3, 2, 1, tied: true)).SetName("{m}(headdim2_tied)");
    }

    /// <summary>Values over several magnitudes, both signs, so F16/BF16 rounding is exercised everywhere.</summary>
    public static float[] Floats(Random random, long count)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = (random.NextSingle() * 2 - 1) * MathF.Pow(2, random.Next(-12, 12));
        return values;
    }

    public static InMemoryModelSource Create(LlamaConfig c, int seed)
    {
        var random = new Random(seed);
        long d = c.HiddenSize, f = c.IntermediateSize, kv = c.KvDim;
        var blocks = Enumerable.Range(0, c.NumLayers).Select(_ => new LlamaBlockWeights
        {
            AttnNorm = Floats(random, d), Wq = Floats(random, d * d), Wk = Floats(random, kv * d),
            Wv = Floats(random, kv * d), Wo = Floats(random, d * d), FfnNorm = Floats(random, d),
            WGate = Floats(random, f * d), WUp = Floats(random, f * d), WDown = Floats(random, d * f),
        }).ToList();
        return new InMemoryModelSource(c, Floats(random, c.VocabSize * d), blocks, Floats(random, d),
            c.TieWordEmbeddings ? null : Floats(random, c.VocabSize * d), $"random(seed {seed})");
    }

    /// <summary>Every tensor of <paramref name="actual"/> equals <paramref name="expected"/>'s after
    /// <paramref name="round"/> (identity when null), bit for bit.</summary>
    public static void AssertSameWeights(IModelSource expected, IModelSource actual, Func<float, float>? round = null)
    {
        Assert.That(actual.Config.Maths(), Is.EqualTo(expected.Config.Maths()), "config");
        AssertBits(expected.LoadTokenEmbedding(), actual.LoadTokenEmbedding(), "token embedding", round);
        for (int i = 0; i < expected.Config.NumLayers; i++)
        {
            LlamaBlockWeights e = expected.LoadBlock(i), a = actual.LoadBlock(i);
            AssertBits(e.AttnNorm, a.AttnNorm, $"layer {i} attn norm", round);
            AssertBits(e.Wq, a.Wq, $"layer {i} wq", round);
            AssertBits(e.Wk, a.Wk, $"layer {i} wk", round);
            AssertBits(e.Wv, a.Wv, $"layer {i} wv", round);
            AssertBits(e.Wo, a.Wo, $"layer {i} wo", round);
            AssertBits(e.FfnNorm, a.FfnNorm, $"layer {i} ffn norm", round);
            AssertBits(e.WGate, a.WGate, $"layer {i} gate", round);
            AssertBits(e.WUp, a.WUp, $"layer {i} up", round);
            AssertBits(e.WDown, a.WDown, $"layer {i} down", round);
        }
        AssertBits(expected.LoadFinalNorm(), actual.LoadFinalNorm(), "final norm", round);
        AssertBits(expected.LoadOutput(), actual.LoadOutput(), "output", round);
    }

    public static void AssertBits(float[] expected, float[] actual, string what, Func<float, float>? round = null)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), $"{what}: length");
        for (int i = 0; i < expected.Length; i++)
        {
            float e = round == null ? expected[i] : round(expected[i]);
            if (BitConverter.SingleToInt32Bits(e) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {e:R} (source {expected[i]:R})");
        }
    }
}

public static class ConfigExtensions
{
    /// <summary>The config without its identity (model_type, ids, the source's config.json text): what the maths uses,
    /// comparable between a config built in a test and the same config read back from a written file.</summary>
    public static QuantNative.Model.LlamaConfig Maths(this QuantNative.Model.LlamaConfig c) =>
        c with { Identity = QuantNative.Model.ModelIdentity.Llama };
}
