using System.Text.Json;
using NUnit.Framework;

using static QuantNative.Tests.Cli.CliRunner;

namespace QuantNative.Tests.Cli;

/// <summary>`qn quantize` and `qn ablate` on stories260K: the workflow, and every bad input of the list.</summary>
public class QuantizeCliTests : SplitTextFixture
{
    private CliRunner.Outcome Quantize(string outDir, params string[] extra) =>
        CliRunner.Run(["quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--calib", Calib,
            "--nsamples", "4", "--seqlen", "64", "--out", outDir, .. extra]);

    [Test]
    public void QuantizeWritesADirectoryThatEvalGenerateAndInfoUse()
    {
        string outDir = NewOut();
        var o = Quantize(outDir, "--method", "gptq", "--wbits", "4", "--group", "32");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("model.layers.4.mlp.down_proj").And.Contain("bits/weight")
            .And.Contain("does not divide 172").And.Contain("gptq (v1)").And.Contain("clamped"));
        Assert.That(o.Stderr, Does.Contain("quantize"), "progress on stderr");
        foreach (var f in new[] { "config.json", "quantize_config.json", "model.safetensors", "tokenizer.model", "tokenizer.json" })
            Assert.That(File.Exists(Path.Combine(outDir, f)), f);

        var eval = CliRunner.Run("eval", "--model", outDir, "--text", Eval, "--ctx", "128", "--max-windows", "2", "--json");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
        Assert.That(JsonDocument.Parse(eval.Stdout).RootElement.GetProperty("ppl").GetDouble(), Is.InRange(1.0, 30.0));
        var generate = CliRunner.Run("generate", "--model", outDir, "--prompt", "Once upon a time", "--max-tokens", "10");
        Assert.That(generate.ExitCode, Is.EqualTo(0), generate.ToString());
        Assert.That(generate.Stdout, Does.StartWith("Once upon a time"));
        var info = CliRunner.Run("info", "--model", outDir);
        Assert.That(info.Stdout, Does.Contain("gptq").And.Contain("model.layers.0.self_attn.q_proj.qweight"));

        AssertCleanError(Quantize(outDir, "--method", "rtn", "--wbits", "4"), outDir, "already exists", "--force");
        var forced = Quantize(outDir, "--method", "rtn", "--wbits", "8", "--format", "v2", "--force");
        Assert.That(forced.ExitCode, Is.EqualTo(0), forced.ToString());
        Assert.That(File.ReadAllText(Path.Combine(outDir, "quantize_config.json")), Does.Contain("gptq_v2"));
    }

    /// <summary>The per-layer methods print the peak they will reach before any work, and refuse a run that would
    /// not fit (here: a limit below the estimate) with that figure, leaving no output.</summary>
    [Test]
    public void APeakBeyondTheMemoryLimitIsRefusedUpFrontWithTheFigure()
    {
        string outDir = NewOut();
        var fits = Quantize(outDir, "--method", "gptq", "--wbits", "4", "--group", "32", "--max-memory", "4G");
        Assert.That(fits.ExitCode, Is.EqualTo(0), fits.ToString());
        var line = fits.Stderr.Split('\n').Single(l => l.StartsWith("memory: about ", StringComparison.Ordinal));
        Assert.That(line, Does.Contain("GPTQ Hessians").And.Contain("calibration activations (4 × 64 tokens)"));

        string refused = NewOut();
        AssertCleanError(Quantize(refused, "--method", "gptq", "--wbits", "4", "--group", "32", "--max-memory", "1M"),
            "--max-memory 1M allows 1 MiB", "the run would need about", "GPTQ Hessians", "--nsamples");
        Assert.That(Directory.Exists(refused), Is.False);
        AssertCleanError(Quantize(NewOut(), "--method", "rtn", "--wbits", "4", "--max-memory", "lots"), "--max-memory lots", "20G");
    }

    [Test]
    public void UnknownMethod() => AssertCleanError(Quantize(NewOut(), "--method", "awq", "--wbits", "4"), "--method", "awq");

    /// <summary>No such width at all; or (5, 6) one that only GGUF holds, asked for a GPTQ checkpoint.</summary>
    [TestCase(1, "expected one of 2, 3, 4, 5, 6, 8")]
    [TestCase(7, "expected one of 2, 3, 4, 5, 6, 8")]
    [TestCase(16, "expected one of 2, 3, 4, 5, 6, 8")]
    [TestCase(5, "a GPTQ checkpoint holds 2, 3, 4, 8 bits")]
    [TestCase(6, "--format gguf")]
    public void BitsOutsideTheSupportedSet(int bits, string expected) =>
        AssertCleanError(Quantize(NewOut(), "--method", "rtn", "--wbits", bits.ToString()), $"--wbits {bits}", expected);

    [TestCase("0")]
    [TestCase("-4")]
    public void GroupSizeNotPositive(string group) =>
        AssertCleanError(Quantize(NewOut(), "--method", "rtn", "--wbits", "4", $"--group={group}"), $"--group {group}");

    [Test]
    public void CalibrationTextShorterThanOneWindow()
    {
        string shortText = Path.Combine(Dir, "short.txt");
        File.WriteAllText(shortText, "Once upon a time there was a cat.");
        var o = CliRunner.Run("quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--calib", shortText,
            "--wbits", "4", "--seqlen", "64", "--out", NewOut());
        AssertCleanError(o, "--calib", shortText, "one calibration window", "--seqlen 64");
    }

    [Test]
    public void GptqWithoutCalibrationText() =>
        // (stories260K itself shares the built-in model's tokenizer, so it calibrates on the built-in slice; any other
        // model must give its text.)
        AssertCleanError(CliRunner.Run("quantize", "--model", Path.Combine(TestPaths.Shared, "models", "synthetic", "llama3"),
            "--method", "gptq", "--wbits", "4", "--out", NewOut()), "--calib");

    [Test]
    public void UnknownFormat() => AssertCleanError(Quantize(NewOut(), "--wbits", "4", "--format", "v3"), "--format v3");

    [Test]
    public void AblateWritesMarkdownAndCsv()
    {
        string report = Path.Combine(Dir, "docs", "baselines.md");
        var o = CliRunner.Run("ablate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--calib", TestPaths.TinyStories, "--calib-range", "0:0.5", "--eval", TestPaths.TinyStories, "--eval-range", "0.5:1",
            "--eval2", TestPaths.WikiText,
            "--methods", "fp32,rtn,gptq", "--wbits", "4", "--group=-1,32", "--nsamples", "2", "--seqlen", "64",
            "--ctx", "128", "--max-windows", "2", "--out", report);
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        string md = File.ReadAllText(report);
        Assert.That(md, Does.Contain("| fp32 |").And.Contain("| rtn | 4 | g32 |").And.Contain("| gptq | 4 | per-channel |")
            .And.Contain("qn ablate").And.Contain("2 windows × 64 tokens"));
        // The overlap remark belongs to the evaluation range of the calibration's own file, not to another text.
        var evalLines = md.Split('\n').Where(l => l.StartsWith("- evaluation ")).ToArray();
        Assert.That(evalLines, Has.Length.EqualTo(2));
        Assert.That(evalLines[0], Does.Contain("tinystories_valid_head.txt").And.Contain("disjoint parts of one file"));
        Assert.That(evalLines[1], Does.Contain("wiki.test.raw").And.Contain("another text than the calibration's")
            .And.Not.Contain("disjoint"));
        var csv = File.ReadAllLines(Path.ChangeExtension(report, ".csv"));
        Assert.That(csv, Has.Length.EqualTo(1 + 1 + 2 + 2));
        Assert.That(csv[0], Does.StartWith("method,bits,group_size,seed,ppl_1"));
    }

    [Test]
    public void AblateUnknownMethod() =>
        AssertCleanError(CliRunner.Run("ablate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--calib", Calib, "--eval", Eval, "--methods", "fp32,awq", "--out", Path.Combine(Dir, "x.md")),
            "--methods", "awq");
}
