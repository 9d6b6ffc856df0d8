using QuantNative.Model.Quantized;

namespace QuantNative.Cpu;

/// <summary>
/// The shape of one LWC fake quantization (DESIGN.md §7.3): a weight matrix W [Rows, Cols] (rows are output
/// channels), groups of <see cref="GroupLayout.Length"/> consecutive columns (per-channel: −1 or 0; a shorter last
/// group when the size does not divide the row), and 2..8 bits. Per-group tensors (u, l, s, z, max, min, du, dl) are
/// [Rows, Groups], row-major. <see cref="Symmetric"/>: the symmetric clipping of <see cref="LwcFakeQuant"/> (one
/// learned factor per group, zero 2^(bits−1) or 2^(bits−1) − 1; l is not used).
/// </summary>
public readonly record struct LwcShape
{
    public const int MinBits = 2;
    public const int MaxBits = 8;

    public int Rows { get; }
    public int Cols { get; }
    public int Bits { get; }
    public GroupLayout Layout { get; }
    public bool Symmetric { get; }

    public LwcShape(int rows, int cols, int groupSize, int bits, bool symmetric = false)
    {
        if (rows < 1) throw new QuantNativeException($"LWC fake quantization: {rows} rows, expected at least one");
        if (bits < MinBits || bits > MaxBits)
            throw new QuantNativeException($"LWC fake quantization: {bits} bits, expected {MinBits}..{MaxBits}");
        Layout = new GroupLayout(cols, groupSize);
        Rows = rows;
        Cols = cols;
        Bits = bits;
        Symmetric = symmetric;
    }

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
        $"[{Rows}, {Cols}] W{Bits} {(Symmetric ? "sym " : "")}{(Layout.Length == Cols && Groups == 1 ? "per-channel" : $"g{Layout.Length}")}";
}

/// <summary>The clamp on the scale, [Min, Max] (§7.1: 1e-5 and 1e4); passed to the kernels as arguments.</summary>
public readonly record struct ScaleClamp(float Min, float Max)
{
    public static ScaleClamp Default => new(UniformQuantizer.MinScale, UniformQuantizer.MaxScale);
}
