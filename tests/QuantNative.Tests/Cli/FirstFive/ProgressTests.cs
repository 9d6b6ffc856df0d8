using System.Text.Json;
using NUnit.Framework;
using QuantNative.Cli;

namespace QuantNative.Tests.Cli.FirstFive;

/// <summary>Progress of the long verbs when stderr is not a terminal (CI logs): plain lines on stderr with what, how
/// far, rate and time left; nothing on stdout, which a --json consumer reads.</summary>
public class ProgressTests
{
    [Test]
    public void PlainLineSaysWhatHowFarRateAndTimeLeft()
    {
        Assert.That(ProgressReporter.PlainLine("eval", 25, 100, "windows", 5.0),
            Is.EqualTo("eval: 25/100 windows (5.0 s, 5/s, about 15 s left)"));
        Assert.That(ProgressReporter.PlainLine("eval", 100, 100, "windows", 8.0), Is.EqualTo("eval: 100/100 windows (8.0 s, 12/s)"));
        Assert.That(ProgressReporter.PlainLine("quantize", 0, 10, "block 0 targets", 0.1), Is.EqualTo("quantize: 0/10 block 0 targets (0.1 s)"));
    }

    [Test]
    public void LongVerbsReportOnStderrAndKeepStdoutForResults()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            var eval = CliRunner.Run("eval", "--ctx", "64", "--max-windows", "3", "--json");
            Assert.That(eval.ExitCode, Is.Zero, eval.ToString());
            Assert.That(() => JsonDocument.Parse(eval.Stdout), Throws.Nothing, "stdout is the JSON object alone");
            Assert.That(eval.Stderr, Does.Match(@"eval: 3/3 windows \([0-9.]+ s, [0-9.]+/s\)"));

            var convert = CliRunner.Run("convert", "--out", Path.Combine(dir, "hf"));
            Assert.That(convert.ExitCode, Is.Zero, convert.ToString());
            Assert.That(convert.Stderr, Does.Match(@"convert: (\d+)/\1 tensors \("), "the last tensor is always reported");

            var export = CliRunner.Run("export", "--to", "gguf", "--out", Path.Combine(dir, "m.gguf"));
            Assert.That(export.ExitCode, Is.Zero, export.ToString());
            Assert.That(export.Stderr, Does.Match(@"export: (\d+)/\1 tensors \("));

            var quantize = CliRunner.Run("quantize", "--method", "gptq", "--wbits", "4", "--group", "32", "--nsamples", "2",
                "--out", Path.Combine(dir, "gptq"));
            Assert.That(quantize.ExitCode, Is.Zero, quantize.ToString());
            Assert.That(quantize.Stderr, Does.Match(@"quantize: (\d+)/\1 "));
            Assert.That(quantize.Stdout, Does.Not.Contain("quantize: "));

            var bench = CliRunner.Run("bench", "decode", "--model", Path.Combine(dir, "gptq"), "--tokens", "4", "--runs", "2");
            Assert.That(bench.ExitCode, Is.Zero, bench.ToString());
            Assert.That(bench.Stderr, Does.Match(@"bench decode: 3/3 decode runs \("));
            Assert.That(bench.Stdout, Does.Not.Contain("bench decode: "));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
