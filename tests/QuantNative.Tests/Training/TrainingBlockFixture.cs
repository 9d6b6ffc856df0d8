using QuantNative.Benchmarks;
using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Tests.Training;

/// <summary>A random block of an awkward shape with its input, run through <see cref="TrainingBlock"/> in T.</summary>
public sealed class TrainingBlockFixture
{
    public LlamaConfig Config { get; }
    public int Tokens { get; }
    public LlamaBlockWeights Weights { get; }   // fp32, every value exact in double too
    public float[] Input { get; }               // [T, hidden]
    public Rope Rope { get; }

    public TrainingBlockFixture(int hidden, int intermediate, int heads, int kvHeads, int tokens, int seed)
    {
        Config = new LlamaConfig(hidden, intermediate, 1, heads, kvHeads, 32, 512, 1e-5f, 10000f, false);
        Tokens = tokens;
        var random = new Random(seed);
        var b = SyntheticBlock.Create(Config, seed);
        float[] Norm() => TestTensors.ToFloat(TestTensors.Uniform(random, hidden, 0.5, 1.5));
        Weights = new LlamaBlockWeights
        {
            AttnNorm = Norm(), FfnNorm = Norm(),
            Wq = Scale(b.Wq, 3), Wk = Scale(b.Wk, 3), // larger scores, so the softmax is far from uniform
            Wv = b.Wv, Wo = b.Wo, WGate = Scale(b.WGate, 3), WUp = b.WUp, WDown = b.WDown,
        };
        Input = TestTensors.ToFloat(TestTensors.Uniform(random, (long)tokens * hidden));
        Rope = new Rope(Config.HeadDim, Math.Max(tokens, 1), Config.RopeTheta);
    }

    private static float[] Scale(float[] a, float s) => a.Select(v => v * s).ToArray();

    public long OutputLength => (long)Tokens * Config.HiddenSize;

    public T[] Forward<T>(BlockTensors<T> w, T[] x, BlockActivations<T> saved)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var y = TestTensors.Poisoned<T>(OutputLength);
        TrainingBlock.Forward(y, saved, x, w, Config, Rope, Tokens);
        return y;
    }
}
