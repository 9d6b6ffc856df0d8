namespace QuantNative.Benchmarks;

/// <summary>
/// Where the benchmarks report their runs (name, runs done, runs in all), for the command line's progress display:
/// set around one benchmark by <see cref="Use"/>, flowing with the async context, so the benchmark functions keep their
/// signatures and a benchmark without a listener pays nothing. Reported between timed runs, never inside one.
/// </summary>
public static class BenchmarkProgress
{
    private static readonly AsyncLocal<Action<long, long, string>?> Listener = new();

    public static IDisposable Use(Action<long, long, string> listener)
    {
        var previous = Listener.Value;
        Listener.Value = listener;
        return new Restore(previous);
    }

    public static void Report(string name, long done, long total) => Listener.Value?.Invoke(done, total, name);

    private sealed class Restore(Action<long, long, string>? previous) : IDisposable
    {
        public void Dispose() => Listener.Value = previous;
    }
}
