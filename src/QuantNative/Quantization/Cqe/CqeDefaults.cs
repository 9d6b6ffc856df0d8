namespace QuantNative.Quantization.Cqe;

/// <summary>
/// The method names and defaults of CQE+, in one place. The defaults are chosen from the ablation in
/// docs/cqe-ablation.md (see the reasons there).
/// </summary>
public static class CqeDefaults
{
    public const string Lsi = "lsi";
    public const string CqePlus = "cqe+";

    /// <summary>The SDE mask of `--method cqe+` when --sde is not given.</summary>
    public const string Mask = "band:1";

    /// <summary>The look-ahead depth of `--method cqe+` when --cll is not given (DESIGN.md §7.7's default).</summary>
    public const int Depth = 1;
}
