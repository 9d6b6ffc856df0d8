namespace QuantNative.Model.Quantized;

/// <summary>
/// The groups of one weight row: g consecutive input columns each, per-channel meaning one group of the whole row.
/// When g does not divide the row length the last group is shorter (DESIGN.md §7), which the report must say.
/// </summary>
public readonly record struct GroupLayout
{
    public int Columns { get; }

    /// <summary>The configured group size, or <see cref="QuantizerConfig.PerChannelGroupSize"/>.</summary>
    public int GroupSize { get; }

    /// <summary>The length of every group but possibly the last (the whole row when per-channel).</summary>
    public int Length { get; }

    public int Groups { get; }

    public int LastGroupLength { get; }

    public GroupLayout(int columns, int groupSize)
    {
        if (columns <= 0)
            throw new QuantNativeException($"a weight matrix has {columns} input columns: expected at least one");
        if (groupSize < QuantizerConfig.PerChannelGroupSize)
            throw new QuantNativeException(
                $"group size {groupSize}: expected a positive size, or -1 (or 0) for per-channel");
        // 0 is the other per-channel spelling, as in QuantizerConfig.
        if (groupSize == 0) groupSize = QuantizerConfig.PerChannelGroupSize;
        Columns = columns;
        GroupSize = groupSize;
        // A group larger than the row is one (short) group: the same weights as per-channel.
        Length = groupSize == QuantizerConfig.PerChannelGroupSize ? columns : Math.Min(groupSize, columns);
        Groups = (columns + Length - 1) / Length;
        LastGroupLength = columns - (Groups - 1) * Length;
    }

    /// <summary>Whether the last group is shorter than the others.</summary>
    public bool IsRagged => LastGroupLength != Length;

    /// <summary>The group of input column <paramref name="column"/> in the natural (unpermuted) order.</summary>
    public int GroupOf(int column) => column / Length;

    public int StartOf(int group) => group * Length;

    public int LengthOf(int group) => group == Groups - 1 ? LastGroupLength : Length;

    /// <summary>
    /// A line for the report when the configured group size does not divide the row: the last group is shorter, or the
    /// group size exceeds the row and the matrix is effectively per-channel. Null otherwise.
    /// </summary>
    public string? Note =>
        GroupSize > Columns
            ? $"group size {GroupSize} exceeds {Columns} input columns: one group per row (effectively per-channel)"
            : IsRagged
                ? $"group size {GroupSize} does not divide {Columns} input columns: {Groups - 1} groups of {Length} " +
                  $"and a last group of {LastGroupLength}"
                : null;
}
