namespace QuantNative.Cpu.Weights;

/// <summary>
/// Linears whose products can be formed together when they read the same x (a block's q, k and v; gate and up):
/// the low-bit decode GEMV prepares x once for all of them and runs their rows in one parallel loop.
/// </summary>
public interface ISharedInputLinear : ILinearWeights
{
    /// <summary>y = x·Wᵀ for this linear and the others (not accumulated), as their own
    /// <see cref="ILinearWeights.Forward"/> gives it, bit for bit; false, with nothing written, where this linear cannot
    /// take them together (the caller then runs each on its own).</summary>
    bool TryForwardTogether(ReadOnlySpan<float> x, int tokens, Span<float> y, ILinearWeights b, Span<float> yb,
        ILinearWeights? c, Span<float> yc);
}

/// <summary>Runs linears that read the same x together where their form allows (<see cref="ISharedInputLinear"/>),
/// else one after the other.</summary>
public static class SharedInputLinears
{
    public static void Forward(ReadOnlySpan<float> x, int tokens, ILinearWeights a, Span<float> ya, ILinearWeights b,
        Span<float> yb, ILinearWeights? c = null, Span<float> yc = default)
    {
        if (a is ISharedInputLinear shared && shared.TryForwardTogether(x, tokens, ya, b, yb, c, yc)) return;
        a.Forward(x, ya, tokens, accumulate: false);
        b.Forward(x, yb, tokens, accumulate: false);
        c?.Forward(x, yc, tokens, accumulate: false);
    }
}
