namespace QuantNative.Cpu.Weights;

/// <summary>
/// The weights of one linear layer y = x·Wᵀ (W [out, in]) in whatever form a model holds them — fp32 arrays, a
/// memory-mapped BF16/F16/F32 tensor, packed 2/3/4-bit codes — with the product that reads that form directly. The
/// inference forward (<see cref="BlockForward"/>) asks every linear for this and never for an fp32 matrix.
/// </summary>
public interface ILinearWeights
{
    /// <summary>The tensor's name (for messages).</summary>
    string Name { get; }

    int OutFeatures { get; }
    int InFeatures { get; }

    /// <summary>The bytes the product reads per pass over the weights (what a decode step moves from memory).</summary>
    long StoredBytes { get; }

    /// <summary>y [tokens, out] = x [tokens, in]·Wᵀ, added to y when <paramref name="accumulate"/> (a residual).</summary>
    void Forward(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate);
}
