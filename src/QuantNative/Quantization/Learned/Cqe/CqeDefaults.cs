namespace QuantNative.Quantization.Learned.Cqe;

/// <summary>
/// The method names and defaults of CQE+, in one place. The defaults are chosen from the ablation in
/// docs/cqe-ablation.md (see the reasons there).
/// </summary>
public static class CqeDefaults
{
    public const string Lsi = "lsi";
    public const string CqePlus = "cqe+";

    /// <summary>The SDE mask of `--method cqe+` when --sde is not given.</summary>
    public const string Mask = "band:1+block:16";

    /// <summary>The look-ahead depth of `--method cqe+` when --cll is not given (DESIGN.md §7.7's default).</summary>
    public const int Depth = 1;

    /// <summary>The weight λ of the look-ahead loss (DESIGN.md §7.7 proposes 1; the sweep preferred 0.5).</summary>
    public const double LookAheadWeight = 0.5;
}
