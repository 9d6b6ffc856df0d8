using QuantNative.Benchmarks;
using QuantNative.Model;

namespace QuantNative.Tests.Inference;

/// <summary>Small random models of awkward shapes (odd sizes, grouped-query heads, untied output).</summary>
public static class RandomModels
{
    public static LlamaModel Create(LlamaConfig c, int seed)
    {
        var random = new Random(seed);
        var blocks = new LlamaBlockWeights[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++)
        {
            var b = SyntheticBlock.Create(c, seed * 31 + i);
            // Norm weights other than 1 so a missing γ would show.
            blocks[i] = new LlamaBlockWeights
            {
                AttnNorm = Vector(random, c.HiddenSize, 0.5f, 1.5f), FfnNorm = Vector(random, c.HiddenSize, 0.5f, 1.5f),
                Wq = b.Wq, Wk = b.Wk, Wv = b.Wv, Wo = b.Wo, WGate = b.WGate, WUp = b.WUp, WDown = b.WDown,
            };
        }
        var embedding = SyntheticBlock.Uniform(random, c.VocabSize, c.HiddenSize);
        return new LlamaModel
        {
            Config = c,
            TokenEmbedding = embedding,
            Blocks = blocks,
            FinalNorm = Vector(random, c.HiddenSize, 0.5f, 1.5f),
            Output = c.TieWordEmbeddings ? embedding : SyntheticBlock.Uniform(random, c.VocabSize, c.HiddenSize),
        };
    }

    public static int[] Tokens(int count, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();
    }

    private static float[] Vector(Random random, int n, float lo, float hi) =>
        Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * random.NextSingle()).ToArray();
}
