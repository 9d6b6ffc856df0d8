using System.Diagnostics;

namespace QuantNative.Tests.Cli.FirstFive;

/// <summary>Runs a qn.dll in its own process (the same dotnet host as the tests) with a chosen working directory and
/// environment: what the in-process runner cannot show (a library hidden from the resolver at start-up, a tool copied
/// away from the repository).</summary>
public static class ToolProcess
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    public static Outcome Run(string qnDll, string workingDirectory, IReadOnlyDictionary<string, string?> environment,
        params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(qnDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
        {
            if (value == null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return new Outcome(process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>The qn beside the tests (the CLI project's build output is copied there).</summary>
    public static string BesideTests => Path.Combine(AppContext.BaseDirectory, "qn.dll");
}
