namespace QuantNative.Model.Quantized;

/// <summary>
/// What a weight quantizer produces (DESIGN.md §7.1): bit width, asymmetric (default) or symmetric, and the group
/// size along the input dimension. Per-channel (one group per output row) is spelled −1 (the GPTQ checkpoint
/// convention) or 0; both are stored as −1.
/// </summary>
public sealed class QuantizerConfig
{
    /// <summary>The bit widths the GPTQ checkpoint convention (and its runtimes) can pack.</summary>
    public static readonly IReadOnlyList<int> SupportedBits = [2, 3, 4, 5, 6, 8];

    /// <summary>The widths a GPTQ checkpoint packs (AutoGPTQ, vLLM, Transformers: 2, 3, 4, 8). W5 and W6 exist for
    /// GGUF's 5- and 6-bit types (Q5_0/Q5_1 exactly, Q5_K/Q6_K fitted), written only as GGUF.</summary>
    public static readonly IReadOnlyList<int> GptqBits = [2, 3, 4, 8];

    /// <summary>Whether a GPTQ checkpoint can hold this quantizer: a width of <see cref="GptqBits"/> and an integer
    /// zero point (not <see cref="FreeMinimum"/>).</summary>
    public bool HasGptqPacking => GptqBits.Contains(Bits) && !FreeMinimum;

    public const int PerChannelGroupSize = -1;

    public int Bits { get; }
    public bool Symmetric { get; }

    /// <summary>Asymmetric with a free minimum: each group stores a float offset m (fp16) instead of an integer zero
    /// point, ŵ = q·s + m — GGUF's Q4_1/Q5_1 blocks and K-quant sub-block mins (x = d·q + m). qn's addition to §7.1 for
    /// learned clipping (<c>--free-min</c>); GGUF only, since a GPTQ checkpoint stores integer zeros.</summary>
    public bool FreeMinimum { get; }

    /// <summary>g &gt; 0, or <see cref="PerChannelGroupSize"/>.</summary>
    public int GroupSize { get; }

    public bool PerChannel => GroupSize == PerChannelGroupSize;

    /// <summary>The largest integer code, 2^bits − 1.</summary>
    public int MaxCode => (1 << Bits) - 1;

    public QuantizerConfig(int bits, int groupSize = PerChannelGroupSize, bool symmetric = false, bool freeMinimum = false)
    {
        if (symmetric && freeMinimum)
            throw new QuantNativeException("--sym and --free-min: a symmetric grid has no minimum to learn; give one of them");
        if (!SupportedBits.Contains(bits))
            throw new QuantNativeException(
                $"bits (--wbits) = {bits}: expected one of {string.Join(", ", SupportedBits)}");
        if (groupSize < PerChannelGroupSize)
            throw new QuantNativeException(
                $"group size (--group) = {groupSize}: expected a positive number of input columns per group, " +
                "or -1 (or 0) for per-channel");
        Bits = bits;
        Symmetric = symmetric;
        FreeMinimum = freeMinimum;
        GroupSize = groupSize == 0 ? PerChannelGroupSize : groupSize;
    }

    /// <summary>How the rows of a matrix with <paramref name="columns"/> input columns split into groups.</summary>
    public GroupLayout Layout(int columns) => new(columns, GroupSize);

    public override string ToString() =>
        $"W{Bits} {(Symmetric ? "sym" : FreeMinimum ? "free-min" : "asym")} {(PerChannel ? "per-channel" : $"g{GroupSize}")}";
}
