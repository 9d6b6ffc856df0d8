using QuantNative.Benchmarks;
using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Tests.Training;

/// <summary>
/// A random block of an awkward shape with its input, run through <see cref="TrainingBlock"/> in T. The architecture
/// adds a family's features to the plain LLaMA block: "qwen2" q/k/v biases; "qwen3" head_dim ≠ hidden/heads, q/k norms
/// and q/k/v/o biases; "mistral" a sliding window of 4; "llama3" llama3 RoPE scaling with all three frequency bands.
/// </summary>
public sealed class TrainingBlockFixture
{
    public LlamaConfig Config { get; }
    public int Tokens { get; }
    public LlamaBlockWeights Weights { get; }   // fp32, every value exact in double too
    public float[] Input { get; }               // [T, hidden]
    public Rope Rope { get; }

    public TrainingBlockFixture(int hidden, int intermediate, int heads, int kvHeads, int tokens, int seed,
        string architecture = "llama")
    {
        Config = WithArchitecture(new LlamaConfig(hidden, intermediate, 1, heads, kvHeads, 32, 512, 1e-5f, 10000f, false),
            architecture);
        Tokens = tokens;
        var random = new Random(seed);
        var b = SyntheticBlock.Create(Config, seed);
        float[] Norm() => TestTensors.ToFloat(TestTensors.Uniform(random, hidden, 0.5, 1.5));
        Weights = new LlamaBlockWeights
        {
            AttnNorm = Norm(), FfnNorm = Norm(),
            Wq = Scale(b.Wq, 3), Wk = Scale(b.Wk, 3), // larger scores, so the softmax is far from uniform
            Wv = b.Wv, Wo = b.Wo, WGate = Scale(b.WGate, 3), WUp = b.WUp, WDown = b.WDown,
            // Norm weights away from 1 and biases of the size of the projections, so both matter.
            Extras = b.Extras with
            {
                QNorm = b.Extras.QNorm == null ? null : TestTensors.ToFloat(TestTensors.Uniform(random, Config.HeadDim, 0.5, 1.5)),
                KNorm = b.Extras.KNorm == null ? null : TestTensors.ToFloat(TestTensors.Uniform(random, Config.HeadDim, 0.5, 1.5)),
                QBias = b.Extras.QBias == null ? null : Scale(b.Extras.QBias, 5),
                KBias = b.Extras.KBias == null ? null : Scale(b.Extras.KBias, 5),
            },
        };
        Input = TestTensors.ToFloat(TestTensors.Uniform(random, (long)tokens * hidden));
        Rope = new Rope(Config.HeadDim, Math.Max(tokens, 1), Config.Rope);
    }

    public static LlamaConfig WithArchitecture(LlamaConfig c, string architecture) => architecture switch
    {
        "llama" => c,
        "qwen2" => c with { AttentionBias = true },
        "qwen3" => c with { HeadDim = c.HeadDim + 2, QkNorm = true, AttentionBias = true, OutputBias = true },
        "mistral" => c with { SlidingWindow = 4 },
        // An original context of 64 puts the low/high wavelength bounds (64, 16) among the wavelengths of head dim 8 at
        // theta 10000 (6.3, 63, 628, 6283): one of each band.
        "llama3" => c with { RopeScaling = new RopeScaling(RopeType.Llama3, 8, 1, 4, 64) },
        _ => throw new ArgumentException($"no architecture {architecture}", nameof(architecture)),
    };

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
