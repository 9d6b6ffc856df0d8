using ScottPlot;

namespace QuantNative.Cli.Plots;

/// <summary>One run of an ablation as the figure reads it: a CSV line's method, bits, group, bits per weight and the
/// perplexity on the first evaluation text.</summary>
public sealed record FigureRun(string Method, int? Bits, int? GroupSize, double BitsPerWeight, double Perplexity);

/// <summary>A point of the figure: the mean and sample standard deviation of the perplexity over the seeds.</summary>
public sealed record FigurePoint(int Bits, double BitsPerWeight, double Mean, double Sd, int Runs);

public sealed record FigureSeries(string Label, Color Color, IReadOnlyList<FigurePoint> Points);

/// <summary>
/// `qn ablate`'s figure: perplexity against bits per weight (as stored: codes, zeros, scales), one line per method
/// (and group size, when the ablation has several), a point per bit width at the mean over the seeds with ± one
/// standard deviation as error bars, log-scale perplexity (2-bit rows are often ten times the 4-bit ones); fp32 as a
/// dashed line. <see cref="Series"/> is what was drawn, so a test can find every point in the image.
/// </summary>
public sealed class PerplexityFigure
{
    public required Plot Plot { get; init; }
    public required IReadOnlyList<FigureSeries> Series { get; init; }
    public double? Fp32 { get; init; }

    public static PerplexityFigure Create(string title, string evalLabel, IReadOnlyList<FigureRun> runs)
    {
        var plot = FigureFiles.NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        bool severalGroups = runs.Where(r => r.Bits != null).Select(r => r.GroupSize).Distinct().Count() > 1;
        var series = new List<FigureSeries>();
        foreach (var method in runs.Where(r => r.Bits != null).GroupBy(r => (r.Method, Group: severalGroups ? r.GroupSize : null)))
        {
            var points = method.GroupBy(r => r.Bits!.Value).OrderBy(g => g.Key).Select(g =>
            {
                var ppl = g.Select(r => r.Perplexity).ToList();
                double mean = ppl.Average();
                double sd = ppl.Count > 1 ? Math.Sqrt(ppl.Sum(p => (p - mean) * (p - mean)) / (ppl.Count - 1)) : 0;
                return new FigurePoint(g.Key, g.Average(r => r.BitsPerWeight), mean, sd, ppl.Count);
            }).ToList();
            string label = method.Key.Method + (method.Key.Group is int gs ? gs < 0 ? " per-channel" : $" g{gs}" : "");
            series.Add(new FigureSeries(label, palette.GetColor(series.Count), points));
        }

        foreach (var s in series)
        {
            double[] xs = s.Points.Select(p => p.BitsPerWeight).ToArray();
            double[] ys = s.Points.Select(p => Math.Log10(p.Mean)).ToArray();
            if (s.Points.Any(p => p.Sd > 0))
            {
                // Error bars in log space: from log10(mean − sd) to log10(mean + sd).
                double[] down = s.Points.Select(p => Math.Log10(p.Mean) - Math.Log10(Math.Max(p.Mean - p.Sd, p.Mean * 1e-3))).ToArray();
                double[] up = s.Points.Select(p => Math.Log10(p.Mean + p.Sd) - Math.Log10(p.Mean)).ToArray();
                var bars = new ScottPlot.Plottables.ErrorBar(xs, ys, null, null, down, up) { Color = s.Color };
                plot.Add.Plottable(bars);
            }
            var line = plot.Add.Scatter(xs, ys, s.Color);
            line.MarkerSize = 9;
            line.LineWidth = 2;
            line.LegendText = s.Label;
        }

        double? fp32 = runs.FirstOrDefault(r => r.Bits == null)?.Perplexity;
        if (fp32 is double f)
        {
            var reference = plot.Add.HorizontalLine(Math.Log10(f), 2, Colors.Black);
            reference.LinePattern = LinePattern.Dashed;
            reference.LegendText = $"fp32 ({f:F3})";
        }

        int seeds = series.SelectMany(s => s.Points).Select(p => p.Runs).DefaultIfEmpty(1).Max();
        plot.Title($"{title}\nperplexity on {evalLabel}" + (seeds > 1 ? $", mean ± sd over {seeds} seeds" : ""));
        plot.XLabel("bits per weight as stored (codes, zero points, fp16 scales)");
        plot.YLabel("perplexity (log scale)");
        FigureFiles.LogScale(plot.Axes.Left, series.SelectMany(s => s.Points.SelectMany(p => new[] { p.Mean + p.Sd, Math.Max(p.Mean - p.Sd, p.Mean / 2) }))
            .Concat(fp32 is double v ? [v] : []));
        plot.ShowLegend(Alignment.UpperRight);
        return new PerplexityFigure { Plot = plot, Series = series, Fp32 = fp32 };
    }
}
