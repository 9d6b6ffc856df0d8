using QuantNative.Cli.Plots;

namespace QuantNative.Cli.Ablation;

/// <summary>
/// The ablation's figures beside its markdown and CSV, drawn from the same rows as the CSV: REPORT.png/.svg
/// (perplexity against bits per weight per method) and, when learned rows are present, REPORT-loss.png/.svg (their
/// per-block training loss curves).
/// </summary>
public static class AblationFigures
{
    public static string PerplexityPath(string markdownPath) => Path.ChangeExtension(markdownPath, ".png");

    public static string LossPath(string markdownPath) =>
        Path.Combine(Path.GetDirectoryName(markdownPath) ?? "", Path.GetFileNameWithoutExtension(markdownPath) + "-loss.png");

    public static string Title(string model, IEnumerable<string> methods) =>
        $"{Path.GetFileNameWithoutExtension(model)}: {string.Join(", ", methods.Distinct())}";

    /// <summary>Writes the figures and returns the paths of the PNGs (each has its SVG beside it).</summary>
    public static IReadOnlyList<string> Write(AblationReport report, string markdownPath)
    {
        string title = Title(report.Model, report.Rows.Select(r => r.Method));
        var runs = report.Rows.Select(r => new FigureRun(r.Method, r.Config?.Bits, r.Config?.GroupSize, r.BitsPerWeight,
            r.Perplexities[0].Ppl)).ToList();
        var written = new List<string>();
        string png = PerplexityPath(markdownPath);
        FigureFiles.Write(PerplexityFigure.Create(title, report.EvalLabels[0], runs).Plot, png, svg: true);
        written.Add(png);

        var learned = report.Rows.Where(r => r.Quantized?.Learned != null)
            .Select(r => ($"{r.Method} W{r.Config!.Bits} {r.Group}", r.Quantized!.Learned!))
            .ToList();
        if (LossCurveFigure.Any(learned.Select(l => l.Item2)))
        {
            string loss = LossPath(markdownPath);
            FigureFiles.Write(LossCurveFigure.Create($"{title}: block-wise training loss", learned), loss, svg: true);
            written.Add(loss);
        }
        return written;
    }
}
