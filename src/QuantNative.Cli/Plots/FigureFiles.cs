using ScottPlot;

namespace QuantNative.Cli.Plots;

/// <summary>Writes a figure as PNG (and SVG beside it when asked), each under a temporary name renamed when complete,
/// as every qn output is.</summary>
public static class FigureFiles
{
    public const int Width = 1000, Height = 600;

    public static void Write(Plot plot, string pngPath, bool svg)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(pngPath));
        if (dir != null) Directory.CreateDirectory(dir);
        Save(pngPath, temp => plot.SavePng(temp, Width, Height));
        if (svg) Save(Path.ChangeExtension(pngPath, ".svg"), temp => plot.SaveSvg(temp, Width, Height));
    }

    private static void Save(string path, Action<string> write)
    {
        string temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!,
            $".{Path.GetFileNameWithoutExtension(path)}.partial-{Environment.ProcessId}{Path.GetExtension(path)}");
        try
        {
            write(temp);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: writing the figure failed: {e.Message}", e);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// A log-scale axis: ScottPlot 5 draws log10 of the values on a linear axis, so the ticks are set by hand, labelled
    /// with the values: majors at 1, 2 and 5 × 10^k (every integer multiple when the data spans less than a decade),
    /// minors at the other multiples, over the range of <paramref name="values"/>.
    /// </summary>
    public static void LogScale(IAxis axis, IEnumerable<double> values)
    {
        var positive = values.Where(v => v > 0 && double.IsFinite(v)).ToList();
        if (positive.Count == 0) return;
        double lo = positive.Min(), hi = positive.Max();
        bool narrow = hi / lo < 10;
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int k = (int)Math.Floor(Math.Log10(lo)) - 1; k <= (int)Math.Ceiling(Math.Log10(hi)); k++)
        for (int m = 1; m <= 9; m++)
        {
            double v = m * Math.Pow(10, k);
            if (v < lo / 1.5 || v > hi * 1.5) continue;
            if (narrow || m is 1 or 2 or 5) ticks.AddMajor(Math.Log10(v), FormatValue(v));
            else ticks.AddMinor(Math.Log10(v));
        }
        axis.TickGenerator = ticks;
    }

    private static string FormatValue(double v) => v.ToString("G3", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A new figure in the installed sans-serif font (ScottPlot picks one that has the characters used).</summary>
    public static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Automatic();
        return plot;
    }
}
