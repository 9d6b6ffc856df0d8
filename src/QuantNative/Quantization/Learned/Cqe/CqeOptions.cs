using System.Globalization;

namespace QuantNative.Quantization.Learned.Cqe;

/// <summary>Which weights the look-ahead blocks of cross-layer learning run with (DESIGN.md §7.7).</summary>
public enum LookAheadWeights
{
    /// <summary>Full precision (the default): the look-ahead sees exactly the fp trajectory's blocks.</summary>
    Fp,

    /// <summary>RTN-quantized with the run's quantizer: closer to what the later blocks will be after quantization.</summary>
    Rtn,
}

/// <summary>
/// What CQE+ adds to OmniQuant's loop: SDE (the mask, its learning rate; null mask = no SDE), cross-layer learning
/// (look-ahead depth D, 0 = none; weight λ; fp or RTN look-ahead) and where the clipping parameters start (from
/// OmniQuant's initial value, or from a finished run's output, <see cref="InitFrom"/>). Errors name the options.
/// </summary>
public sealed record CqeOptions
{
    public const double DefaultSdeLearningRate = 2e-4;
    public const double DefaultLookAheadWeight = 0.5; // the ablation's choice (docs/cqe-ablation.md); DESIGN.md proposes 1

    public SdeMask? Sde { get; init; }
    public double SdeLearningRate { get; init; } = DefaultSdeLearningRate;
    public int LookAheadDepth { get; init; }
    public double LookAheadWeight { get; init; } = DefaultLookAheadWeight;
    public LookAheadWeights LookAhead { get; init; } = LookAheadWeights.Fp;

    /// <summary>The output directory of a finished omniquant/lsi/cqe+ run whose clipping parameters start this one.</summary>
    public string? InitFrom { get; init; }

    public void Validate()
    {
        if (!(SdeLearningRate > 0) || !double.IsFinite(SdeLearningRate))
            throw new QuantNativeException($"--sde-lr {SdeLearningRate.ToString(CultureInfo.InvariantCulture)}: expected a " +
                                           $"finite learning rate > 0 (default {DefaultSdeLearningRate.ToString(CultureInfo.InvariantCulture)})");
        if (LookAheadDepth < 0)
            throw new QuantNativeException($"--cll {LookAheadDepth}: expected a look-ahead depth ≥ 0 blocks (0 = no cross-layer learning, default 1)");
        if (!(LookAheadWeight >= 0) || !double.IsFinite(LookAheadWeight))
            throw new QuantNativeException($"--cll-weight {LookAheadWeight.ToString(CultureInfo.InvariantCulture)}: expected a finite weight λ ≥ 0 (default {DefaultLookAheadWeight.ToString(CultureInfo.InvariantCulture)})");
        if (InitFrom != null && !Directory.Exists(InitFrom))
            throw new QuantNativeException($"--init-from {InitFrom}: no such directory; expected the output directory of a finished " +
                                           $"`qn quantize --method omniquant` (or lsi, cqe+) run");
    }

    public static LookAheadWeights ParseLookAhead(string value) => value.ToLowerInvariant() switch
    {
        "fp" => LookAheadWeights.Fp,
        "rtn" => LookAheadWeights.Rtn,
        _ => throw new QuantNativeException($"--cll-lookahead {value}: expected fp (full-precision look-ahead blocks) or rtn"),
    };

    /// <summary>The settings as fingerprint/report lines (everything that changes the result).</summary>
    public string Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        string sde = Sde == null ? "none" : $"{Sde} lr {SdeLearningRate.ToString("R", inv)}";
        string cll = LookAheadDepth == 0
            ? "none"
            : $"depth {LookAheadDepth} weight {LookAheadWeight.ToString("R", inv)} look-ahead {LookAhead.ToString().ToLowerInvariant()}";
        return $"sde {sde}; cll {cll}; init {(InitFrom == null ? "σ(4)" : Path.GetFullPath(InitFrom))}";
    }
}
