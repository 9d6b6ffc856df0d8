using System.Globalization;
using NUnit.Framework;
using QuantNative.Cli.Ablation;
using QuantNative.Cli.Plots;
using SkiaSharp;

namespace QuantNative.Tests.Cli.FirstFive;

/// <summary>
/// The figures of `qn ablate` and `qn quantize --plot`: PNGs that decode at the size asked for, SVGs beside them, and
/// an ablation figure whose data is the CSV's: its points are the CSV's perplexities averaged over the seeds (computed
/// here again), the image is the one those points make, and at each point's pixel the image has its method's colour.
/// </summary>
public class FigureTests
{
    private string _dir = "";

    [OneTimeSetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [OneTimeTearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    [Test]
    public void AblationFigureShowsTheCsvsPerplexities()
    {
        string report = Path.Combine(_dir, "ablate.md");
        var o = CliRunner.Run("ablate", "--methods", "fp32,rtn,gptq,cqe+", "--wbits", "2,3", "--group", "32", "--nsamples", "2",
            "--seqlen", "32", "--epochs", "1", "--seeds", "0,1", "--ctx", "64", "--max-windows", "2", "--out", report);
        Assert.That(o.ExitCode, Is.Zero, o.ToString());
        string png = AblationFigures.PerplexityPath(report);
        AssertImage(png);
        AssertImage(AblationFigures.LossPath(report));

        // The CSV, read here: one line per run.
        var lines = File.ReadAllLines(Path.ChangeExtension(report, ".csv"));
        var header = lines[0].Split(',').ToList();
        var runs = lines.Skip(1).Select(l => l.Split(',')).Select(f => new FigureRun(f[0],
            f[1].Length == 0 ? null : int.Parse(f[1], CultureInfo.InvariantCulture),
            f[2].Length == 0 ? null : int.Parse(f[2], CultureInfo.InvariantCulture),
            double.Parse(f[header.IndexOf("bits_per_weight")], CultureInfo.InvariantCulture),
            double.Parse(f[header.IndexOf("ppl_1")], CultureInfo.InvariantCulture))).ToList();
        Assert.That(runs, Has.Count.EqualTo(1 + 2 + 2 * 2 * 2), "fp32, rtn once per bit width, gptq and cqe+ per bit width and seed");

        var figure = PerplexityFigure.Create(AblationFigures.Title("builtin:stories260K", runs.Select(r => r.Method)),
            "builtin:tinystories-heldout [0:1]", runs);
        // Its points: the mean and sample sd over the seeds of each method and bit width, computed independently here.
        foreach (var method in new[] { "rtn", "gptq", "cqe+" })
        foreach (int bits in new[] { 2, 3 })
        {
            var ppl = runs.Where(r => r.Method == method && r.Bits == bits).Select(r => r.Perplexity).ToArray();
            double mean = ppl.Sum() / ppl.Length;
            var point = figure.Series.Single(s => s.Label == method).Points.Single(p => p.Bits == bits);
            Assert.That(point.Mean, Is.EqualTo(mean).Within(1e-12), $"{method} W{bits}");
            if (ppl.Length == 2) Assert.That(point.Sd, Is.EqualTo(Math.Abs(ppl[0] - ppl[1]) / Math.Sqrt(2)).Within(1e-9));
        }
        Assert.That(figure.Fp32, Is.EqualTo(runs.Single(r => r.Method == "fp32").Perplexity));

        // The run's image is the image of these points, and each point is drawn in its method's colour where it belongs.
        string again = Path.Combine(_dir, "again.png");
        FigureFiles.Write(figure.Plot, again, svg: false);
        using var written = SKBitmap.Decode(png);
        using var redrawn = SKBitmap.Decode(again);
        Assert.That(written.Pixels, Is.EqualTo(redrawn.Pixels), "the figure qn ablate wrote is the plot of its CSV");
        foreach (var s in figure.Series)
        foreach (var p in s.Points)
        {
            var at = figure.Plot.GetPixel(new ScottPlot.Coordinates(p.BitsPerWeight, Math.Log10(p.Mean)));
            var want = new SKColor(s.Color.R, s.Color.G, s.Color.B);
            bool found = false;
            for (int dx = -3; dx <= 3 && !found; dx++)
            for (int dy = -3; dy <= 3 && !found; dy++)
                found = written.GetPixel((int)at.X + dx, (int)at.Y + dy) == want;
            Assert.That(found, $"{s.Label} W{p.Bits} (ppl {p.Mean:F3}) is drawn at pixel ({at.X:F0}, {at.Y:F0})");
        }
    }

    [Test]
    public void QuantizePlotDrawsTheLearnedRunsLossCurves()
    {
        string plot = Path.Combine(_dir, "loss.png");
        var o = CliRunner.Run("quantize", "--method", "omniquant", "--wbits", "3", "--group", "32", "--nsamples", "2",
            "--seqlen", "32", "--epochs", "2", "--plot", plot, "--out", Path.Combine(_dir, "omni"));
        Assert.That(o.ExitCode, Is.Zero, o.ToString());
        Assert.That(o.Stdout, Does.Contain($"plot           {plot}"));
        AssertImage(plot);

        CliRunner.AssertCleanError(CliRunner.Run("quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--method", "rtn", "--wbits", "3", "--plot", plot,
            "--out", Path.Combine(_dir, "rtn")), "--plot", "only the learned methods");
    }

    private static void AssertImage(string png)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.That(bitmap, Is.Not.Null, $"{png} decodes as an image");
        Assert.That((bitmap.Width, bitmap.Height), Is.EqualTo((FigureFiles.Width, FigureFiles.Height)));
        Assert.That(bitmap.Pixels.Distinct().Count(), Is.GreaterThan(10), "not a blank image");
        string svg = File.ReadAllText(Path.ChangeExtension(png, ".svg"));
        Assert.That(svg, Does.Contain("<svg"));
    }
}
