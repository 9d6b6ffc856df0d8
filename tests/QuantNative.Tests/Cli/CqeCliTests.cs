using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>`qn quantize --method cqe+|lsi` and the CQE+ rows of `qn ablate` on stories260K: the workflow, the
/// clipping parameters a run leaves and `--init-from`, resume with the SVD cache, and every refusal before any work.</summary>
public class CqeCliTests : SplitTextFixture
{
    /// <summary>4 windows of 64 tokens, 2 epochs, unless <paramref name="extra"/> sets them.</summary>
    private CliRunner.Outcome Quantize(string method, string outDir, params string[] extra) =>
        QuantizeModel(TestPaths.Stories260K, method, outDir, extra);

    private CliRunner.Outcome QuantizeModel(string model, string method, string outDir, params string[] extra)
    {
        var args = new List<string> { "quantize", "--model", model, "--tokenizer", TestPaths.Tok512, "--calib", Calib,
            "--method", method, "--out", outDir };
        foreach (var (option, value) in new[] { ("--nsamples", "4"), ("--seqlen", "64"), ("--epochs", "2"), ("--wbits", "3") })
            if (!extra.Contains(option)) args.AddRange([option, value]);
        return CliRunner.Run([.. args, .. extra]);
    }

    private static void AssertSameFiles(string expectedDir, string actualDir, params string[] skip)
    {
        var names = Directory.GetFiles(expectedDir).Select(Path.GetFileName).Where(n => !skip.Contains(n)).Order().ToArray();
        Assert.That(Directory.GetFiles(actualDir).Select(Path.GetFileName).Where(n => !skip.Contains(n)).Order(), Is.EqualTo(names));
        foreach (var name in names)
            Assert.That(File.ReadAllBytes(Path.Combine(actualDir, name!)),
                Is.EqualTo(File.ReadAllBytes(Path.Combine(expectedDir, name!))), $"{name} differs");
    }

    [Test]
    public void CqePlusWritesACheckpointWithItsClippingParameters()
    {
        string outDir = NewOut();
        var o = Quantize("cqe+", outDir, "--group", "32", "--sde", "band:2+block:4", "--cll", "2");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("cqe+ W3 asym g32").And.Contain("sde band:2+block:4 lr 0.0002")
            .And.Contain("cll depth 2 weight 0.5 look-ahead fp").And.Contain("2 more block(s)").And.Contain("lwc_clipping.qnclip"));
        Assert.That(File.Exists(Path.Combine(outDir, "lwc_clipping.qnclip")), Is.True);
        var eval = CliRunner.Run("eval", "--model", outDir, "--text", Eval, "--ctx", "128", "--max-windows", "2");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
    }

    /// <summary>`--device emulate`: SDE and cross-layer learning train on the CUDA backend on the emulator (agreement
    /// with the CPU: OmniQuantBackendTests); the checkpoint with its clipping parameters is written.</summary>
    [Test]
    public void CqePlusTrainsOnTheEmulatedDevice()
    {
        string outDir = NewOut();
        var o = Quantize("cqe+", outDir, "--group", "32", "--nsamples", "2", "--seqlen", "16", "--epochs", "1",
            "--sde", "band:1+block:4", "--cll", "1", "--device", "emulate");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("cqe+ W3 asym g32").And.Contain("training steps on emulate: CUDA emulator"));
        Assert.That(File.Exists(Path.Combine(outDir, "lwc_clipping.qnclip")), Is.True);
        // The device's buffers are printed apart, and (emulated: in this process) counted in the host's peak.
        Assert.That(o.Stderr, Does.Contain("device memory: about").And.Contain("look-ahead targets (1 × 2 windows)")
            .And.Contain("the emulated device's buffers"));
    }

    /// <summary>The learned methods print the peak they will reach before any progress, and refuse a run that would
    /// not fit with that figure (naming the options that shrink it), leaving no output.</summary>
    [TestCase("omniquant", "LWC training state")]
    [TestCase("lsi", "SDE training state")]
    [TestCase("cqe+", "look-ahead chain")]
    public void ThePeakIsPrintedBeforeAnyProgressAndARunBeyondTheLimitIsRefused(string method, string item)
    {
        var fits = Quantize(method, NewOut(), "--nsamples", "2", "--seqlen", "16", "--epochs", "1", "--max-memory", "4G");
        Assert.That(fits.ExitCode, Is.EqualTo(0), fits.ToString());
        var lines = fits.Stderr.Split('\n');
        int memory = Array.FindIndex(lines, l => l.StartsWith("memory: about ", StringComparison.Ordinal));
        int progress = Array.FindIndex(lines, l => l.StartsWith("quantize: ", StringComparison.Ordinal));
        Assert.That(memory, Is.GreaterThanOrEqualTo(0), fits.Stderr);
        Assert.That(lines[memory], Does.Contain(item).And.Contain("calibration inputs and targets X_q, X_fp (2 × 16 tokens × 2)"));
        Assert.That(progress, Is.GreaterThan(memory), "the figure comes before any progress");
        Assert.That(fits.Stderr, Does.Not.Contain("device memory"), "a CPU run has no device figure");

        string refused = NewOut();
        CliRunner.AssertCleanError(Quantize(method, refused, "--max-memory", "1M"),
            "--max-memory 1M allows 1 MiB", "the run would need about", item, "--nsamples");
        Assert.That(Directory.Exists(refused), Is.False);
    }

    [Test]
    public void LsiIsTheDiagonalMaskWithoutCrossLayerLearning()
    {
        string outDir = NewOut();
        var o = Quantize("lsi", outDir, "--group", "32");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("lsi W3 asym g32").And.Contain("sde diag lr 0.0002; cll none"));
    }

    /// <summary>Started from an omniquant run's clipping parameters with nothing to train (0 epochs, E = 0, no
    /// look-ahead), cqe+ commits exactly that run's weights: the parameters travel bit for bit.</summary>
    [Test]
    public void InitFromAFinishedRunStartsFromItsClipping()
    {
        string omni = NewOut(), started = NewOut();
        var first = Quantize("omniquant", omni, "--group", "32");
        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());
        var o = Quantize("cqe+", started, "--group", "32", "--init-from", omni, "--epochs", "0", "--cll", "0");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("init " + Path.GetFullPath(omni)));
        AssertSameFiles(omni, started, "config.json", "quantize_config.json"); // these name the method
    }

    [Test]
    public void InitFromAnotherModelOrQuantizerIsRefused()
    {
        string omni = NewOut();
        Assert.That(Quantize("omniquant", omni, "--group", "32", "--epochs", "1").ExitCode, Is.EqualTo(0));
        CliRunner.AssertCleanError(Quantize("cqe+", NewOut(), "--group", "32", "--wbits", "4", "--init-from", omni),
            "--init-from", "W3 group 32", "W4 group 32");
        CliRunner.AssertCleanError(Quantize("cqe+", NewOut(), "--group", "-1", "--init-from", omni), "--init-from", "group -1");
        CliRunner.AssertCleanError(Quantize("cqe+", NewOut(), "--group", "32", "--sym", "--init-from", omni),
            "--init-from", "asymmetric", "--sym");
        CliRunner.AssertCleanError(Quantize("cqe+", NewOut() + ".gguf", "--group", "32", "--free-min", "--format", "gguf", "--init-from", omni),
            "--init-from", "an integer zero point", "a free minimum (--free-min)");
        CliRunner.AssertCleanError(Quantize("cqe+", NewOut(), "--group", "32", "--lwc-init-search", "--init-from", omni),
            "--lwc-init-search", "--init-from");
        CliRunner.AssertCleanError(Quantize("gptq", NewOut(), "--group", "32", "--lwc-init-search"), "--lwc-init-search", "--method gptq");

        string other = Path.Combine(Dir, "other-" + Guid.NewGuid().ToString("N")[..8] + ".bin");
        var bytes = File.ReadAllBytes(TestPaths.Stories260K);
        bytes[7 * 4 + 100] ^= 0x01; // llama2.c: a 7-int header, then the token embedding
        File.WriteAllBytes(other, bytes);
        string outDir = NewOut();
        CliRunner.AssertCleanError(QuantizeModel(other, "cqe+", outDir, "--group", "32", "--init-from", omni),
            "--init-from", "another model");
        Assert.That(Directory.Exists(outDir), Is.False);
        CliRunner.AssertCleanError(Quantize("cqe+", NewOut(), "--init-from", Path.Combine(Dir, "missing")), "--init-from", "no such directory");
        CliRunner.AssertCleanError(Quantize("cqe+", NewOut(), "--init-from", Dir), "--init-from", "lwc_clipping.qnclip");
    }

    /// <summary>Stopped after block 1 (the SVD factors of the finished blocks are cached in the work directory),
    /// started again: the same files, byte for byte, as an uninterrupted run.</summary>
    [Test]
    public void ResumeAfterAStopGivesTheSameCheckpoint()
    {
        string whole = NewOut(), resumed = NewOut();
        string[] settings = ["--group", "32", "--sde", "band:1", "--cll", "1", "--sde-lr", "0.002"];
        var full = Quantize("cqe+", whole, settings);
        Assert.That(full.ExitCode, Is.EqualTo(0), full.ToString());
        var stopped = Quantize("cqe+", resumed, [.. settings, "--stop-after-block", "1"]);
        Assert.That(stopped.ExitCode, Is.EqualTo(1), stopped.ToString());
        Assert.That(File.Exists(Path.Combine(resumed + ".qn-work", "svd-1.bin")), Is.True, "the SVD is cached");
        var again = Quantize("cqe+", resumed, settings);
        Assert.That(again.ExitCode, Is.EqualTo(0), again.ToString());
        Assert.That(again.Stdout, Does.Contain("resumed at block 2"));
        AssertSameFiles(whole, resumed);
    }

    [TestCase("cqe+", "--sde", "band:-1", "--sde 'band:-1'")]
    [TestCase("cqe+", "--sde", "block:0", "block:0")]
    [TestCase("cqe+", "--sde", "block:33", "rank 32")]
    [TestCase("cqe+", "--sde", "ring:3", "unknown mask part")]
    [TestCase("cqe+", "--sde-lr", "0", "--sde-lr 0")]
    [TestCase("cqe+", "--cll", "-1", "--cll -1")]
    [TestCase("cqe+", "--cll-weight", "-1", "--cll-weight -1")]
    [TestCase("cqe+", "--cll-lookahead", "int8", "--cll-lookahead int8")]
    [TestCase("lsi", "--sde", "band:2", "--method lsi")]
    [TestCase("lsi", "--cll", "1", "--method lsi")]
    [TestCase("omniquant", "--sde", "diag", "--sde: only --method cqe+ (or lsi) takes it; --method omniquant has no SDE")]
    [TestCase("gptq", "--cll", "1", "--cll: only --method cqe+ (or lsi) takes it; --method gptq has no SDE")]
    public void BadOptionsAreRefusedBeforeAnyWork(string method, string option, string value, string message)
    {
        string outDir = NewOut();
        var o = Quantize(method, outDir, option, value);
        CliRunner.AssertCleanError(o, message);
        Assert.That(o.Stderr, Does.Not.Contain("quantize: "), "refused before any progress");
        Assert.That(Directory.Exists(outDir) || Directory.Exists(outDir + ".qn-work"), Is.False);
    }

    [Test]
    public void AblateRunsTheCqeRowsWithSeeds()
    {
        string report = Path.Combine(Dir, "ablate-" + Guid.NewGuid().ToString("N")[..8] + ".md");
        var o = CliRunner.Run("ablate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--calib", TestPaths.TinyStories, "--calib-range", "0:0.5", "--eval", TestPaths.TinyStories, "--eval-range", "0.5:1",
            "--methods", "rtn,omniquant,lsi,sde,cll,cqe+", "--wbits", "3", "--group=32", "--nsamples", "2", "--seqlen", "64",
            "--epochs", "1", "--seeds", "0,1", "--ctx", "128", "--max-windows", "2", "--out", report);
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        string md = File.ReadAllText(report);
        foreach (var row in new[] { "| rtn | 3 | g32 | 1 |", "| omniquant | 3 | g32 | 2 |", "| +lsi | 3 | g32 | 2 |",
                     "| +sde | 3 | g32 | 2 |", "| +cll | 3 | g32 | 2 |", "| cqe+ | 3 | g32 | 2 |" })
            Assert.That(md, Does.Contain(row));
        Assert.That(md, Does.Contain(" ± ").And.Contain("--seeds 0,1").And.Contain("- CQE+ rows"));
        var csv = File.ReadAllLines(Path.ChangeExtension(report, ".csv"));
        Assert.That(csv, Has.Length.EqualTo(1 + 1 + 5 * 2), "a header, rtn once, each learned method per seed");
        Assert.That(csv[0], Does.StartWith("method,bits,group_size,seed,ppl_1"));
    }
}
