namespace QuantNative.Cpu;

/// <summary>
/// A mask laid out for one layer: its nonzero entries (i, j) in column-major order (E is stored compactly, one value
/// per entry), and <see cref="Active"/>, the number of leading singular directions any entry touches (the factors
/// beyond it are never read).
/// </summary>
public sealed record SdeMaskLayout(int Rank, int Active, int[] Rows, int[] Cols)
{
    public int Count => Rows.Length;

    /// <summary>Index of the first entry of column j, for j = 0..Active (so column j is [start[j], start[j+1])).</summary>
    public int[] ColumnStarts()
    {
        var start = new int[Active + 1];
        foreach (int j in Cols) start[j + 1]++;
        for (int j = 0; j < Active; j++) start[j + 1] += start[j];
        return start;
    }
}
