using QuantNative.Model;

namespace QuantNative.Benchmarks;

/// <summary>Random block weights of a given shape (uniform ±1/sqrt(fan-in), norms 1), reproducible from a seed.</summary>
public static class SyntheticBlock
{
    public static LlamaBlockWeights Create(LlamaConfig c, int seed)
    {
        var random = new Random(seed);
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize;
        return new LlamaBlockWeights
        {
            AttnNorm = Ones(d), FfnNorm = Ones(d),
            Wq = Uniform(random, d, d), Wk = Uniform(random, kv, d), Wv = Uniform(random, kv, d), Wo = Uniform(random, d, d),
            WGate = Uniform(random, f, d), WUp = Uniform(random, f, d), WDown = Uniform(random, d, f),
        };
    }

    public static float[] Uniform(Random random, int rows, int cols)
    {
        var a = new float[(long)rows * cols];
        float bound = 1f / MathF.Sqrt(cols);
        for (long i = 0; i < a.Length; i++) a[i] = (random.NextSingle() * 2 - 1) * bound;
        return a;
    }

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();
}
