using System.Diagnostics;
using Spectre.Console;

namespace QuantNative.Cli;

/// <summary>
/// Progress of long work on stderr: a live bar (what, how far, time left) on a terminal, and a plain line every
/// few seconds otherwise (logs, CI), so stdout stays clean for results and JSON.
/// </summary>
public sealed class ProgressReporter
{
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
        if (_interactive)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            T result = default!;
            console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(what));
                    result = work((done, total, detail) =>
                    {
                        task.MaxValue = Math.Max(total, 1);
                        task.Value = done;
                        task.Description = Markup.Escape(detail.Length > 0 ? $"{what} {detail}" : what);
                    });
                });
            return result;
        }

        var clock = Stopwatch.StartNew();
        double lastPrint = -10;
        return work((done, total, detail) =>
        {
            double now = clock.Elapsed.TotalSeconds;
            if (done < total && now - lastPrint < 5) return;
            lastPrint = now;
            string eta = done > 0 && done < total ? $", about {now / done * (total - done):F0} s left" : "";
            _stderr.WriteLine($"{what}: {done}/{total} {detail} ({now:F1} s{eta})");
        });
    }
}
