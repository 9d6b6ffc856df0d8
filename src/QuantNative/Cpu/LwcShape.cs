using QuantNative.Model.Quantized;

namespace QuantNative.Cpu;

/// <summary>
/// The shape of one LWC fake quantization (DESIGN.md §7.3): a weight matrix W [Rows, Cols] (rows are output
/// channels), groups of <see cref="GroupLayout.Length"/> consecutive columns (per-channel: −1 or 0; a shorter last
/// group when the size does not divide the row), and 2..8 bits. Per-group tensors (u, l, s, z, max, min, du, dl) are
/// [Rows, Groups], row-major. <see cref="Grid"/>: the quantizer the clipping learns for (<see cref="LwcGrid"/>).
/// </summary>
public readonly record struct LwcShape
{
    public const int MinBits = 2;
    public const int MaxBits = 8;

    public int Rows { get; }
    public int Cols { get; }
    public int Bits { get; }
    public GroupLayout Layout { get; }
    public LwcGrid Grid { get; }

    /// <summary>One learned factor per group, zero 2^(bits−1) or 2^(bits−1) − 1; l is not used.</summary>
    public bool Symmetric => Grid == LwcGrid.Symmetric;

    /// <summary>The zero tensor holds the float minimum m = β·min(w) and ŵ = q·s + m.</summary>
    public bool FreeMinimum => Grid == LwcGrid.FreeMinimum;

    public LwcShape(int rows, int cols, int groupSize, int bits, LwcGrid grid = LwcGrid.ZeroPoint)
    {
        if (rows < 1) throw new QuantNativeException($"LWC fake quantization: {rows} rows, expected at least one");
        if (bits < MinBits || bits > MaxBits)
            throw new QuantNativeException($"LWC fake quantization: {bits} bits, expected {MinBits}..{MaxBits}");
        Layout = new GroupLayout(cols, groupSize);
        Rows = rows;
        Cols = cols;
        Bits = bits;
        if (!Enum.IsDefined(grid)) throw new QuantNativeException($"LWC fake quantization: grid {(int)grid}, expected 0..2");
        Grid = grid;
    }

    /// <summary>The grid a quantizer's learned clipping trains on.</summary>
    public static LwcGrid GridOf(QuantizerConfig config) =>
        config.Symmetric ? LwcGrid.Symmetric : config.FreeMinimum ? LwcGrid.FreeMinimum : LwcGrid.ZeroPoint;

    public int Groups => Layout.Groups;

    /// <summary>The length of every group but possibly the last (the row for per-channel).</summary>
    public int GroupLength => Layout.Length;

    public int MaxCode => (1 << Bits) - 1;

    /// <summary>2^(bits−1): the symmetric quantizer's levels on the side of the group's largest magnitude.</summary>
    public int Half => 1 << (Bits - 1);

    /// <summary>The symmetric quantizer's zero: h when the group's largest magnitude is negative (h levels below zero),
    /// else h − 1 (h levels above).</summary>
    public int SymmetricZero(bool negativeSide) => negativeSide ? Half : Half - 1;

    public long Elements => (long)Rows * Cols;

    public long GroupCount => (long)Rows * Groups;

    public override string ToString() =>
        $"[{Rows}, {Cols}] W{Bits} {(Symmetric ? "sym " : FreeMinimum ? "free-min " : "")}{(Layout.Length == Cols && Groups == 1 ? "per-channel" : $"g{Layout.Length}")}";
}

/// <summary>The quantizer learnable weight clipping trains for; the value is the kernels' <c>grid</c> argument.</summary>
public enum LwcGrid
{
    /// <summary>DESIGN.md §7.3 on §7.1: xmax = γ·max(w), xmin = β·min(w), integer zero z = round(−xmin/s).</summary>
    ZeroPoint = 0,

    /// <summary>qn's symmetric clipping (GGUF's Q4_0/Q3_K grids, no zero point): one factor γ per group.</summary>
    Symmetric = 1,

    /// <summary>qn's free-minimum clipping (GGUF's Q4_1/Q5_1 and K-quant mins, x = d·q + m): the range's
    /// lower end m = β·min(w) is the offset itself, not rounded to a multiple of s.</summary>
    FreeMinimum = 2,
}

/// <summary>The clamp on the scale, [Min, Max] (§7.1: 1e-5 and 1e4); passed to the kernels as arguments.</summary>
public readonly record struct ScaleClamp(float Min, float Max)
{
    public static ScaleClamp Default => new(UniformQuantizer.MinScale, UniformQuantizer.MaxScale);
}
