using ScottPlot;
using QuantNative.Quantization.Learned;

namespace QuantNative.Cli.Plots;

/// <summary>
/// The block-wise training's loss curves: for each run, every block's mean training loss per epoch, the blocks one
/// after another along the x axis (block b's epoch e at b·E + e), log scale (the loss grows by orders of magnitude
/// from the first block to the last). `qn quantize --plot` draws one run, `qn ablate` every learned run.
/// </summary>
public static class LossCurveFigure
{
    /// <summary>The figure; runs whose blocks have no epoch losses (all resumed) are left out.</summary>
    public static Plot Create(string title, IReadOnlyList<(string Label, LearnedReport Report)> runs)
    {
        var plot = FigureFiles.NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        int epochs = runs.Max(r => r.Report.Epochs), blocks = runs.Max(r => r.Report.Blocks.Count);
        // Runs with the same label (one setting over several seeds) share a colour and a legend entry.
        var labels = runs.Select(r => r.Label).Distinct().ToList();
        var labelled = new HashSet<string>();
        for (int i = 0; i < runs.Count; i++)
        {
            var color = palette.GetColor(labels.IndexOf(runs[i].Label));
            foreach (var block in runs[i].Report.Blocks.Where(b => b.EpochLosses.Count > 0))
            {
                double[] xs = Enumerable.Range(1, block.EpochLosses.Count).Select(e => (double)(block.Block * epochs + e)).ToArray();
                double[] ys = block.EpochLosses.Select(Math.Log10).ToArray();
                var line = plot.Add.Scatter(xs, ys, color);
                line.MarkerSize = block.EpochLosses.Count > 40 ? 0 : 4;
                if (labelled.Add(runs[i].Label))
                    line.LegendText = runs[i].Label + (runs.Count(r => r.Label == runs[i].Label) is > 1 and var n ? $" ({n} seeds)" : "");
            }
        }
        for (int b = 1; b < blocks; b++)
        {
            var edge = plot.Add.VerticalLine(b * epochs + 0.5, 1, Colors.Gray);
            edge.LinePattern = LinePattern.Dashed;
        }
        plot.Title(title);
        plot.XLabel($"epoch, blocks one after another ({epochs} epochs per block; block b starts at b·{epochs} + 1)");
        plot.YLabel("mean training loss of the epoch (log scale)");
        FigureFiles.LogScale(plot.Axes.Left, runs.SelectMany(r => r.Report.Blocks.SelectMany(b => b.EpochLosses)));
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    /// <summary>Whether any of the reports has a curve to draw (a block trained by this run, not resumed).</summary>
    public static bool Any(IEnumerable<LearnedReport?> reports) => reports.Any(r => r?.Blocks.Any(b => b.EpochLosses.Count > 0) == true);
}
