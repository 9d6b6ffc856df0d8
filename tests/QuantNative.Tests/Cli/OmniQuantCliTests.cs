using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>`qn quantize --method omniquant` and `qn ablate --methods omniquant` on stories260K: the workflow, resume
/// after a stop, refusal of another run's work directory, and bad input.</summary>
public class OmniQuantCliTests : SplitTextFixture
{
    private CliRunner.Outcome Quantize(string outDir, params string[] extra) =>
        QuantizeModel(TestPaths.Stories260K, outDir, extra);

    /// <summary>4 windows of 64 tokens, 2 epochs, unless <paramref name="extra"/> sets them.</summary>
    private CliRunner.Outcome QuantizeModel(string model, string outDir, params string[] extra)
    {
        var args = new List<string> { "quantize", "--model", model, "--tokenizer", TestPaths.Tok512, "--calib", Calib,
            "--method", "omniquant", "--out", outDir };
        foreach (var (option, value) in new[] { ("--nsamples", "4"), ("--seqlen", "64"), ("--epochs", "2") })
            if (!extra.Contains(option)) args.AddRange([option, value]);
        return CliRunner.Run([.. args, .. extra]);
    }

    private static void AssertCleanError(CliRunner.Outcome o, params string[] mentions)
    {
        Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
        // The printed peak and progress lines may come first (a stop after a block); the error is one line, and the last.
        var lines = o.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines.Count(l => l.StartsWith("error: ")), Is.EqualTo(1), o.ToString());
        Assert.That(lines[^1], Does.StartWith("error: "), o.ToString());
        Assert.That(lines.Take(lines.Length - 1),
            Has.All.Matches<string>(l => l.StartsWith("quantize: ") || l.StartsWith("memory: about ")), o.ToString());
        Assert.That(o.Stderr, Does.Not.Contain("   at "), "no stack trace");
        foreach (var m in mentions) Assert.That(o.Stderr, Does.Contain(m), o.ToString());
    }

    private static void AssertSameFiles(string expectedDir, string actualDir)
    {
        var names = Directory.GetFiles(expectedDir).Select(Path.GetFileName).Order().ToArray();
        Assert.That(Directory.GetFiles(actualDir).Select(Path.GetFileName).Order(), Is.EqualTo(names));
        foreach (var name in names)
            Assert.That(File.ReadAllBytes(Path.Combine(actualDir, name!)),
                Is.EqualTo(File.ReadAllBytes(Path.Combine(expectedDir, name!))), $"{name} differs");
    }

    [Test]
    public void QuantizeWritesACheckpointWithALossTable()
    {
        string outDir = NewOut();
        var o = Quantize(outDir, "--wbits", "3", "--group", "32");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("omniquant W3 asym g32").And.Contain("2 epochs per block")
            .And.Contain("initial MSE").And.Contain("MiB peak").And.Contain("model.layers.4.mlp.down_proj"));
        Assert.That(o.Stderr, Does.Contain("epoch").And.Contain("loss"), "progress: block, epoch, loss");
        Assert.That(Directory.Exists(outDir + ".qn-work"), Is.False, "the work directory is removed when done");
        var eval = CliRunner.Run("eval", "--model", outDir, "--text", Eval, "--ctx", "128", "--max-windows", "2");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
    }

    /// <summary>The resume state of an earlier version (.omniquant-work, another layout) is refused with what to do,
    /// never resumed, and left as it was.</summary>
    [Test]
    public void AWorkDirectoryOfAnEarlierVersionIsRefused()
    {
        string outDir = NewOut();
        Directory.CreateDirectory(outDir + ".omniquant-work");
        var o = Quantize(outDir, "--wbits", "3");
        AssertCleanError(o, ".omniquant-work", "earlier qn version", "delete it");
        Assert.That(Directory.Exists(outDir) || Directory.Exists(outDir + ".qn-work"), Is.False);
        Assert.That(Directory.Exists(outDir + ".omniquant-work"), Is.True);
    }

    /// <summary>A run stopped right after block 2's state was saved, then started again with the same command, writes
    /// the same files, byte for byte, as an uninterrupted run.</summary>
    [TestCase("3", "32")]
    [TestCase("2", "-1")]
    public void ResumeAfterAStopGivesTheSameCheckpoint(string bits, string group)
    {
        string whole = NewOut(), resumed = NewOut();
        var full = Quantize(whole, "--wbits", bits, $"--group={group}");
        Assert.That(full.ExitCode, Is.EqualTo(0), full.ToString());

        var stopped = Quantize(resumed, "--wbits", bits, $"--group={group}", "--stop-after-block", "2");
        AssertCleanError(stopped, "stopped after block 2");
        Assert.That(Directory.Exists(resumed), Is.False);
        Assert.That(File.Exists(Path.Combine(resumed + ".qn-work", "block-2.bin")), Is.True);
        Assert.That(File.Exists(Path.Combine(resumed + ".qn-work", "block-3.bin")), Is.False);

        var again = Quantize(resumed, "--wbits", bits, $"--group={group}");
        Assert.That(again.ExitCode, Is.EqualTo(0), again.ToString());
        Assert.That(again.Stdout, Does.Contain("resumed at block 3"));
        AssertSameFiles(whole, resumed);
        Assert.That(Directory.Exists(resumed + ".qn-work"), Is.False);
    }

    [Test]
    public void RefusesAWorkDirectoryOfOtherSettings()
    {
        string outDir = NewOut();
        AssertCleanError(Quantize(outDir, "--wbits", "3", "--stop-after-block", "0"), "stopped after block 0");
        AssertCleanError(Quantize(outDir, "--wbits", "4"), "work directory", "other settings", "W3", "W4");
        AssertCleanError(Quantize(outDir, "--wbits", "3", "--lwc-lr", "0.005"), "work directory", "lwc-lr 0.01", "lwc-lr 0.005");
        Assert.That(File.Exists(Path.Combine(outDir + ".qn-work", "block-0.bin")), "the state is left as it was");
    }

    [Test]
    public void RefusesAWorkDirectoryOfAnotherModel()
    {
        // The same weights under another path, with one embedding value changed: another model.
        string other = Path.Combine(Dir, "other-" + Guid.NewGuid().ToString("N")[..8] + ".bin");
        var bytes = File.ReadAllBytes(TestPaths.Stories260K);
        bytes[7 * 4 + 100] ^= 0x01; // llama2.c: a 7-int header, then the token embedding
        File.WriteAllBytes(other, bytes);
        string outDir = NewOut();
        AssertCleanError(QuantizeModel(other, outDir, "--wbits", "3", "--stop-after-block", "0"), "stopped after block 0");
        AssertCleanError(Quantize(outDir, "--wbits", "3"), "work directory", "another model", "embedding sha256");
    }

    [TestCase("--epochs", "-1")]
    [TestCase("--lwc-lr", "0")]
    [TestCase("--lwc-lr", "-0.01")]
    public void BadTrainingOptions(string option, string value) =>
        AssertCleanError(Quantize(NewOut(), "--wbits", "3", option, value), $"{option} {value}");

    [Test]
    public void CalibrationWindowsLongerThanTheContext() =>
        AssertCleanError(Quantize(NewOut(), "--wbits", "3", "--seqlen", "1024"), "--seqlen 1024", "context of 512");

    /// <summary>--sym: symmetric learned clipping (one factor per group) writes a GPTQ checkpoint marked sym with GPTQ's
    /// zero 2^(bits−1) in every group — the groups whose largest magnitude is positive with a negative scale — and it
    /// evaluates close to the fp32 model (a sign lost anywhere on the way would not).</summary>
    [Test]
    public void SymmetricWritesGptqZerosWithSignedScales()
    {
        string outDir = NewOut();
        var o = Quantize(outDir, "--wbits", "4", "--group", "32", "--sym");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("omniquant W4 sym g32"));
        using (var source = QuantNative.Formats.ModelLoader.Open(outDir))
        {
            var gptq = (QuantNative.Formats.Gptq.GptqCheckpoint)source;
            Assert.That(gptq.Quantization.Quantizer.Symmetric, Is.True);
            int negative = 0, positive = 0;
            foreach (var linear in QuantNative.Model.BlockLinears.All)
            {
                var m = gptq.LoadMatrix(0, linear.Part);
                Assert.That(m.Zeros, Is.All.EqualTo(8), linear.Part);
                negative += m.Scales.Count(s => s < 0);
                positive += m.Scales.Count(s => s > 0);
            }
            Assert.That(negative, Is.GreaterThan(0), "groups whose largest magnitude is positive: negative scales");
            Assert.That(positive, Is.GreaterThan(0), "groups whose largest magnitude is negative: positive scales");
        }
        double Ppl(params string[] model)
        {
            var e = CliRunner.Run(["eval", .. model, "--text", Eval, "--ctx", "128", "--max-windows", "4", "--json"]);
            Assert.That(e.ExitCode, Is.EqualTo(0), e.ToString());
            using var json = System.Text.Json.JsonDocument.Parse(e.Stdout);
            return json.RootElement.GetProperty("ppl").GetDouble();
        }
        double fp32 = Ppl("--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512), w4 = Ppl("--model", outDir);
        TestContext.Out.WriteLine($"perplexity fp32 {fp32:F4}, omniquant W4 sym g32 {w4:F4}");
        // stories260K loses about 12% at W4 g32 on these windows with any method (asymmetric omniquant 6.34, GPTQ sym
        // 6.23 against fp32 5.67, the same run's settings); a group's sign lost would cost far more than 25%.
        Assert.That(w4, Is.LessThan(fp32 * 1.25), "W4 g32 stays within 25% of fp32");
    }

    [Test]
    public void AblateRunsOmniQuant()
    {
        string report = Path.Combine(Dir, "ablate-" + Guid.NewGuid().ToString("N")[..8] + ".md");
        var o = CliRunner.Run("ablate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--calib", TestPaths.TinyStories, "--calib-range", "0:0.5", "--eval", TestPaths.TinyStories, "--eval-range", "0.5:1",
            "--methods", "rtn,omniquant", "--wbits", "4", "--group=32", "--nsamples", "2", "--seqlen", "64", "--epochs", "1",
            "--ctx", "128", "--max-windows", "2", "--out", report);
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        string md = File.ReadAllText(report);
        Assert.That(md, Does.Contain("| omniquant | 4 | g32 |").And.Contain("--epochs 1").And.Contain("- omniquant: "));
    }

    /// <summary>`--device emulate`: the training steps on the CUDA backend on the emulator (kernels/train/ and the LWC
    /// kernels); the checkpoint loads and evaluates. (Agreement with the CPU path: OmniQuantBackendTests.)</summary>
    [Test]
    public void TrainsOnTheEmulatedDevice()
    {
        string outDir = NewOut();
        var o = Quantize(outDir, "--wbits", "3", "--group", "32", "--nsamples", "2", "--seqlen", "16", "--epochs", "1",
            "--device", "emulate");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("training steps on emulate: CUDA emulator"));
        Assert.That(CliRunner.Run("eval", "--model", outDir, "--text", Eval, "--ctx", "64", "--max-windows", "1").ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void DeviceIsRefusedWhereTheMethodRunsOnTheCpu()
    {
        CliRunner.AssertCleanError(CliRunner.Run("quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--calib", Calib, "--method", "gptq", "--wbits", "3", "--device", "emulate", "--out", NewOut()), "--device emulate", "gptq");
        CliRunner.AssertCleanError(Quantize(NewOut(), "--wbits", "3", "--device", "cuda"), "no CUDA device");
    }
}
