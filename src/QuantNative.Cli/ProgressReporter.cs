using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace QuantNative.Cli;

/// <summary>
/// Progress of long work on stderr: what, how far, the rate and the time left — a live bar on a terminal, and a plain
/// line every few seconds otherwise (logs, CI), so stdout stays clean for results and JSON. Work that reports
/// progress inside work that already does (a benchmark of the OmniQuant loop) reports through the outer display.
/// </summary>
public sealed class ProgressReporter
{
    /// <summary>Seconds between plain lines when stderr is not a terminal.</summary>
    public const double PlainInterval = 5;

    private static readonly AsyncLocal<Action<long, long, string>?> Running = new();

    private readonly TextWriter _stderr;
    private readonly bool _interactive;

    public ProgressReporter(TextWriter stderr)
    {
        _stderr = stderr;
        _interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected
                       && Environment.GetEnvironmentVariable("CI") == null;
    }

    /// <summary>Runs <paramref name="work"/>, which reports (done, total, detail) through the callback it is given.</summary>
    public T Run<T>(string what, Func<Action<long, long, string>, T> work)
    {
        if (Running.Value is { } outer) return work(outer);
        try
        {
            return _interactive ? RunLive(what, work) : RunPlain(what, work);
        }
        finally
        {
            Running.Value = null;
        }
    }

    private static T RunLive<T>(string what, Func<Action<long, long, string>, T> work)
    {
        // stderr is a terminal (checked in the constructor); Spectre would judge by stdout, which a user may redirect
        // (qn quantize … > summary.txt) while watching the bar.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error), Ansi = AnsiSupport.Yes, Interactive = InteractionSupport.Yes,
        });
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(what));
                Action<long, long, string> report = (done, total, detail) =>
                {
                    task.MaxValue = Math.Max(total, 1);
                    task.Value = done;
                    task.Description = Markup.Escape(detail.Length > 0 ? $"{what} {detail}" : what);
                };
                Running.Value = report;
                result = work(report);
            });
        return result;
    }

    private T RunPlain<T>(string what, Func<Action<long, long, string>, T> work)
    {
        var clock = Stopwatch.StartNew();
        double lastPrint = -PlainInterval;
        Action<long, long, string> report = (done, total, detail) =>
        {
            double now = clock.Elapsed.TotalSeconds;
            if (done < total && now - lastPrint < PlainInterval) return;
            lastPrint = now;
            _stderr.WriteLine(PlainLine(what, done, total, detail, now));
        };
        Running.Value = report;
        return work(report);
    }

    /// <summary>A plain progress line: what, how far, elapsed time, rate and (while not done) the time left.</summary>
    public static string PlainLine(string what, long done, long total, string detail, double seconds)
    {
        string rate = done > 0 && seconds > 0 ? $", {Rate(done / seconds)}" : "";
        string eta = done > 0 && done < total ? $", about {seconds / done * (total - done):F0} s left" : "";
        return $"{what}: {done}/{total} {detail} ({seconds:F1} s{rate}{eta})";
    }

    private static string Rate(double perSecond) =>
        (perSecond >= 10 ? perSecond.ToString("F0", CultureInfo.InvariantCulture) : perSecond.ToString("G3", CultureInfo.InvariantCulture)) + "/s";

    /// <summary>The bar's rate: units of the task per second, as Spectre measures them over the last samples.</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double speed and > 0 ? Rate(speed) : "–/s", new Style(Color.Grey));
    }
}
