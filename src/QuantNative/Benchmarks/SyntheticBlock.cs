using QuantNative.Model;

namespace QuantNative.Benchmarks;

/// <summary>Random block weights of a given shape (uniform ±1/sqrt(fan-in), norms 1; biases uniform ±0.1, q/k norms 1
/// where the architecture has them), reproducible from a seed.</summary>
public static class SyntheticBlock
{
    public static LlamaBlockWeights Create(LlamaConfig c, int seed)
    {
        var random = new Random(seed);
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, q = c.QDim;
        return new LlamaBlockWeights
        {
            AttnNorm = Ones(d), FfnNorm = Ones(d),
            Wq = Uniform(random, q, d), Wk = Uniform(random, kv, d), Wv = Uniform(random, kv, d), Wo = Uniform(random, d, q),
            WGate = Uniform(random, f, d), WUp = Uniform(random, f, d), WDown = Uniform(random, d, f),
            // Initialized last, so its draws come after the matrices': a plain LLaMA block is the same as before.
            Extras = BlockExtraParts.Load(c, part => part.Part.EndsWith(".bias", StringComparison.Ordinal)
                ? Bias(random, (int)part.Length(c))
                : Ones((int)part.Length(c))),
        };
    }

    private static float[] Bias(Random random, int n) =>
        Enumerable.Range(0, n).Select(_ => (random.NextSingle() * 2 - 1) * 0.1f).ToArray();

    public static float[] Uniform(Random random, int rows, int cols)
    {
        var a = new float[(long)rows * cols];
        float bound = 1f / MathF.Sqrt(cols);
        for (long i = 0; i < a.Length; i++) a[i] = (random.NextSingle() * 2 - 1) * bound;
        return a;
    }

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();
}
