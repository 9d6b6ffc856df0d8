using System.Diagnostics;
using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>
/// kill -9 of a real `qn quantize --method cqe+` process at three points, each run resuming the last, and the final
/// output compared byte for byte with an uninterrupted run. The points are exact (TestHooks: the process stops there
/// and the test sends SIGKILL), so the test does not depend on timing: at the start of a block's training (block 1),
/// between a block's file and the state that records it (block 2: block-2.bin is written, state.bin still says 2
/// blocks), and inside the output write (the hidden .partial copy is complete but not yet renamed). Afterwards
/// nothing is left: no work directory, no .partial copy.
/// </summary>
public class KillResumeTests : SplitTextFixture
{
    private string[] Args(string outDir) =>
    [
        "quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--calib", Calib,
        "--method", "cqe+", "--wbits", "3", "--group", "32", "--nsamples", "2", "--seqlen", "32", "--epochs", "1",
        "--out", outDir,
    ];

    [Test]
    public void KilledAtThreePointsAndResumedGivesTheSameBytes()
    {
        string whole = NewOut(), killed = NewOut();
        var full = CliRunner.Run(Args(whole));
        Assert.That(full.ExitCode, Is.Zero, full.ToString());

        foreach (var point in new[] { "block-start:1", "between-block-and-state:2", "output-write" })
            RunUntilKilled(Args(killed), point);
        Assert.That(File.Exists(Path.Combine(killed + ".qn-work", "block-2.bin")), "the block written before the kill");
        Assert.That(Directory.GetDirectories(Dir, $".{Path.GetFileName(killed)}.partial-*"), Has.Length.EqualTo(1),
            "the kill during the output write left its copy");

        var last = RunToEnd(Args(killed));
        Assert.That(last.Output, Does.Contain("resumed at block 5"), last.Output);
        var names = Directory.GetFiles(whole).Select(Path.GetFileName).Order().ToArray();
        Assert.That(Directory.GetFiles(killed).Select(Path.GetFileName).Order(), Is.EqualTo(names));
        foreach (var name in names)
            Assert.That(File.ReadAllBytes(Path.Combine(killed, name!)), Is.EqualTo(File.ReadAllBytes(Path.Combine(whole, name!))),
                $"{name} differs from the uninterrupted run's");
        Assert.That(Directory.Exists(killed + ".qn-work"), Is.False, "the work directory goes with the finished run");
        Assert.That(Directory.GetFileSystemEntries(Dir, $".{Path.GetFileName(killed)}.partial-*"), Is.Empty,
            "the killed run's .partial copy is removed by the next run");
    }

    /// <summary>Starts qn with QN_TEST_PAUSE_AT=<paramref name="point"/>, waits until it stops there, SIGKILLs it.</summary>
    private static void RunUntilKilled(string[] args, string point)
    {
        using var process = Start(args, point);
        var seen = new System.Text.StringBuilder();
        var paused = new ManualResetEventSlim();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (seen) seen.AppendLine(e.Data);
            if (e.Data?.Contains($"qn: paused at {point}") == true) paused.Set();
        };
        process.OutputDataReceived += (_, e) => { lock (seen) seen.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        bool reached = paused.Wait(TimeSpan.FromMinutes(3));
        process.Kill(entireProcessTree: true); // SIGKILL: no handler, no finally block runs
        process.WaitForExit();
        lock (seen) Assert.That(reached, $"qn never reached {point}:\n{seen}");
        Assert.That(process.ExitCode, Is.EqualTo(137), "killed by SIGKILL");
    }

    private static (int ExitCode, string Output) RunToEnd(string[] args)
    {
        using var process = Start(args, null);
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string output = stdout + stderr.Result;
        Assert.That(process.ExitCode, Is.Zero, output);
        return (process.ExitCode, output);
    }

    /// <summary>The qn beside the tests (the CLI project's output is copied there), run by the same dotnet host.</summary>
    private static Process Start(string[] args, string? point)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "qn.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        if (point != null) info.Environment["QN_TEST_PAUSE_AT"] = point;
        else info.Environment.Remove("QN_TEST_PAUSE_AT");
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }
}
