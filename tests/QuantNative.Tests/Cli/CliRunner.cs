using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>Runs `qn` in-process with captured output.</summary>
public static class CliRunner
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    public static Outcome Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = QuantNative.Cli.CommandLine.Run(args, stdout, stderr);
        return new Outcome(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Exit code 1, stderr one `error:` line naming every <paramref name="mentions"/> (after the peak `qn
    /// quantize` prints up front, when the error comes from a check that needs the model), and no stack trace.</summary>
    public static void AssertCleanError(Outcome o, params string[] mentions)
    {
        Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
        var lines = o.Stderr.Split('\n');
        var error = string.Join('\n', lines.SkipWhile(l => l.StartsWith("memory: about ", StringComparison.Ordinal)
                                                          || l.StartsWith("device memory: about ", StringComparison.Ordinal)));
        Assert.That(error, Does.StartWith("error: "), o.ToString());
        Assert.That(o.Stderr, Does.Not.Contain("   at "), "no stack trace");
        foreach (var m in mentions) Assert.That(o.Stderr, Does.Contain(m), o.ToString());
    }
}
