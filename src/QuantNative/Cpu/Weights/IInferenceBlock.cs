using QuantNative.Model;

namespace QuantNative.Cpu.Weights;

/// <summary>One block's weights as inference reads them: the small vectors (norms, biases, q/k norms) as fp32 arrays,
/// the seven linears in whatever form the model holds them (<see cref="ILinearWeights"/>).</summary>
public interface IInferenceBlock
{
    float[] AttnNorm { get; }
    float[] FfnNorm { get; }
    BlockExtras<float[]> Extras { get; }

    /// <summary>The linear of a <see cref="BlockLinears"/> part ("self_attn.q_proj", …).</summary>
    ILinearWeights Linear(string part);
}

/// <summary>A block of fp32 arrays (<see cref="LlamaBlockWeights"/>) as an <see cref="IInferenceBlock"/>: every linear
/// an <see cref="ArrayLinear"/>, the same GEMMs as always.</summary>
public sealed class ArrayBlock(LlamaBlockWeights weights, LlamaConfig config) : IInferenceBlock
{
    // Made once per linear on first use: BlockForward asks for each linear on every forward (per decoded token).
    private readonly ILinearWeights?[] _linears = new ILinearWeights?[BlockLinears.All.Length];

    public float[] AttnNorm => weights.AttnNorm;
    public float[] FfnNorm => weights.FfnNorm;
    public BlockExtras<float[]> Extras => weights.Extras;

    public ILinearWeights Linear(string part)
    {
        int i = BlockLinears.IndexOf(part);
        if (_linears[i] is { } made) return made;
        var linear = BlockLinears.All[i];
        var (rows, columns) = linear.Shape(config);
        return _linears[i] = new ArrayLinear(part, linear.Weights(weights), rows, columns);
    }
}

/// <summary>A block whose linears are given (mapped, packed): the norms and extras beside them.</summary>
public sealed class InferenceBlock(float[] attnNorm, float[] ffnNorm, BlockExtras<float[]> extras,
    IReadOnlyDictionary<string, ILinearWeights> linears) : IInferenceBlock
{
    public float[] AttnNorm => attnNorm;
    public float[] FfnNorm => ffnNorm;
    public BlockExtras<float[]> Extras => extras;
    public IReadOnlyDictionary<string, ILinearWeights> Linears => linears;

    public ILinearWeights Linear(string part) => linears.TryGetValue(part, out var l)
        ? l
        : throw new ArgumentException($"no block linear named {part}", nameof(part));
}
