namespace QuantNative;

/// <summary>
/// Crash-point hooks for the kill -9 tests: with QN_TEST_PAUSE_AT=NAME in the environment, the process stops at the
/// point of that name (saying so on stderr) and waits to be killed, so a test can kill it at an exact place (between
/// two files of one block's state, during the output write) rather than at a moment it can only hope to hit. Without
/// the variable each point is one comparison.
/// </summary>
public static class TestHooks
{
    private static readonly string? PauseAt = Environment.GetEnvironmentVariable("QN_TEST_PAUSE_AT");

    public static void Point(string name)
    {
        if (PauseAt == null || PauseAt != name) return;
        Console.Error.WriteLine($"qn: paused at {name}");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }
}
