using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>`qn export --to gguf` and `qn quantize --format gguf` refusals are one line naming the option or tensor;
/// `qn info` reads what export wrote; a damaged file is one error naming it.</summary>
public class GgufCliTests : SplitTextFixture
{
    private static string[] Stories => ["--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512];

    [Test]
    public void BadOptionsAreOneLineNamingThem()
    {
        CliRunner.AssertCleanError(CliRunner.Run(["export", "--to", "onnx", .. Stories, "--out", NewOut()]), "--to onnx");
        CliRunner.AssertCleanError(CliRunner.Run(["export", "--to", "gguf", .. Stories, "--type", "q7_k", "--out", NewOut()]), "--type q7_k");
        CliRunner.AssertCleanError(CliRunner.Run(["quantize", .. Stories, "--method", "rtn", "--wbits", "4", "--type", "q4_k", "--out", NewOut()]),
            "--type q4_k", "--format gguf");
    }

    /// <summary>A learned run writing a K-quant GGUF, stopped after block 1 and started again, writes the same file
    /// as an uninterrupted run: the resumed blocks are fitted from their saved W', clipping ranges and input energy,
    /// not from their codes. Resuming it as --type auto, which keeps none of them, is refused.</summary>
    [Test]
    public void AResumedLearnedRunWritesTheSameKQuantGguf()
    {
        string[] Args(string gguf, string type, params string[] more) =>
        [
            "quantize", "--model", WideModel(), "--tokenizer", TestPaths.Tok512, "--method", "omniquant", "--wbits", "3",
            "--group", "32", "--calib", Calib, "--nsamples", "2", "--seqlen", "32", "--epochs", "1", "--format", "gguf",
            "--type", type, "--out", gguf, .. more,
        ];
        // One file name (it is the GGUF's general.name) in two directories.
        string whole = Path.Combine(Directory.CreateDirectory(NewOut()).FullName, "model.gguf");
        string resumed = Path.Combine(Directory.CreateDirectory(NewOut()).FullName, "model.gguf");
        var full = CliRunner.Run(Args(whole, "q3_k"));
        Assert.That(full.ExitCode, Is.EqualTo(0), full.ToString());
        var stopped = CliRunner.Run(Args(resumed, "q3_k", "--stop-after-block", "1"));
        Assert.That(stopped.ExitCode, Is.EqualTo(1), stopped.ToString());

        CliRunner.AssertCleanError(CliRunner.Run(Args(resumed, "auto")), "another model or other settings",
            "kept for a K-quant fit");
        var again = CliRunner.Run(Args(resumed, "q3_k"));
        Assert.That(again.ExitCode, Is.EqualTo(0), again.ToString());
        Assert.That(again.Stdout, Does.Contain("resumed at block 2"));
        Assert.That(File.ReadAllBytes(resumed), Is.EqualTo(File.ReadAllBytes(whole)), "the resumed run's GGUF");
    }

    /// <summary>A learned symmetric W3 g16 run trains on Q3_K's own grid, so its Q3_K file is its codes (sub-block
    /// scales rounded to 6 bits), not a new search on W': every tensor byte for byte what exporting the same run's GPTQ
    /// checkpoint from its codes gives. (The asymmetric runs' K-quants are fitted to W' instead, as the resume test
    /// above checks.)</summary>
    [Test]
    public void ALearnedSymmetricRunIsItsOwnQ3KGrid()
    {
        string[] Args(string output, params string[] more) =>
        [
            "quantize", "--model", WideModel(), "--tokenizer", TestPaths.Tok512, "--method", "cqe+", "--wbits", "3",
            "--group", "16", "--sym", "--calib", Calib, "--nsamples", "2", "--seqlen", "32", "--epochs", "1", "--out", output, .. more,
        ];
        string direct = NewOut() + ".gguf", checkpoint = NewOut(), exported = NewOut() + ".gguf";
        var run = CliRunner.Run(Args(direct, "--format", "gguf", "--type", "q3_k"));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        Assert.That(run.Stdout, Does.Contain("from the learned symmetric codes (Q3_K's grid"));
        var gptq = CliRunner.Run(Args(checkpoint));
        Assert.That(gptq.ExitCode, Is.EqualTo(0), gptq.ToString());
        var export = CliRunner.Run("export", "--to", "gguf", "--model", checkpoint, "--type", "q3_k", "--out", exported);
        Assert.That(export.ExitCode, Is.EqualTo(0), export.ToString());

        using var a = QuantNative.Formats.Gguf.GgufFile.Open(direct);
        using var b = QuantNative.Formats.Gguf.GgufFile.Open(exported);
        Assert.That(b.Tensors.Select(t => t.Name), Is.EqualTo(a.Tensors.Select(t => t.Name)));
        int q3k = 0;
        foreach (var t in a.Tensors)
        {
            Assert.That(b.Tensor(t.Name).Type, Is.EqualTo(t.Type), t.Name);
            Assert.That(b.Bytes(b.Tensor(t.Name)).ToArray(), Is.EqualTo(a.Bytes(t).ToArray()), t.Name);
            if (t.Type == QuantNative.Formats.Gguf.GgmlType.Q3_K) q3k++;
        }
        Assert.That(q3k, Is.EqualTo(35), "every block linear of the widened model is Q3_K");
    }

    /// <summary>W5 and W6 exist for GGUF's 5- and 6-bit types: W5 g32 codes are Q5_1 (asymmetric) or Q5_0 (--sym)
    /// exactly, a symmetric W6 g16 run is its own Q6_K grid; a GPTQ checkpoint cannot hold them, so without
    /// --format gguf they are refused before any work.</summary>
    [Test]
    public void FiveAndSixBitCodesAreGgufOnly()
    {
        string[] Run(string output, params string[] more) =>
        [
            "quantize", "--model", WideModel(), "--tokenizer", TestPaths.Tok512, "--calib", Calib, "--nsamples", "2",
            "--seqlen", "32", "--epochs", "1", "--out", output, .. more,
        ];
        CliRunner.AssertCleanError(CliRunner.Run(Run(NewOut(), "--method", "rtn", "--wbits", "5")), "--wbits 5", "--format gguf");
        CliRunner.AssertCleanError(CliRunner.Run(Run(NewOut(), "--method", "cqe+", "--wbits", "6", "--sym")), "--wbits 6", "--format gguf");

        foreach (var (sym, type) in new[] { (false, "Q5_1"), (true, "Q5_0") })
        {
            string gguf = NewOut() + ".gguf";
            var o = CliRunner.Run(Run(gguf, ["--method", "omniquant", "--wbits", "5", "--group", "32", "--format", "gguf", .. sym ? new[] { "--sym" } : []]));
            Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
            Assert.That(o.Stdout, Does.Contain($"blk.0.attn_q.weight       {type}").And.Contain("exact from codes"), o.Stdout);
        }
        string q6k = NewOut() + ".gguf";
        var six = CliRunner.Run(Run(q6k, "--method", "cqe+", "--wbits", "6", "--group", "16", "--sym", "--format", "gguf", "--type", "q6_k"));
        Assert.That(six.ExitCode, Is.EqualTo(0), six.ToString());
        Assert.That(six.Stdout, Does.Contain("from the learned symmetric codes (Q6_K's grid"));
        var eval = CliRunner.Run("eval", "--model", q6k, "--text", Eval, "--ctx", "64", "--max-windows", "2");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
    }

    /// <summary>--free-min: learned clipping with a float minimum, GGUF's Q4_1/Q5_1 grid. Refused for a GPTQ checkpoint,
    /// for the methods that learn no range and with --sym; a run (its clipping started by --lwc-init-search) writes Q4_1
    /// from its codes (auto), and one stopped after block 1 and resumed writes the same file (the minimums are saved with
    /// the blocks, the search is redone for the unfinished block); qn eval reads it.</summary>
    [Test]
    public void FreeMinimumIsLearnedAndGgufOnlyAndResumes()
    {
        string[] Run(string output, params string[] more) =>
        [
            "quantize", "--model", WideModel(), "--tokenizer", TestPaths.Tok512, "--calib", Calib, "--nsamples", "2",
            "--seqlen", "32", "--epochs", "1", "--wbits", "4", "--group", "32", "--free-min", "--lwc-init-search", "--out", output, .. more,
        ];
        CliRunner.AssertCleanError(CliRunner.Run(Run(NewOut(), "--method", "omniquant")), "--free-min", "GPTQ checkpoint", "--format gguf");
        CliRunner.AssertCleanError(CliRunner.Run(Run(NewOut() + ".gguf", "--method", "gptq", "--format", "gguf")), "--free-min", "--method gptq");
        CliRunner.AssertCleanError(CliRunner.Run(Run(NewOut() + ".gguf", "--method", "cqe+", "--sym", "--format", "gguf")), "--sym and --free-min");

        string whole = Path.Combine(Directory.CreateDirectory(NewOut()).FullName, "model.gguf");
        string resumed = Path.Combine(Directory.CreateDirectory(NewOut()).FullName, "model.gguf");
        var full = CliRunner.Run(Run(whole, "--method", "omniquant", "--format", "gguf"));
        Assert.That(full.ExitCode, Is.EqualTo(0), full.ToString());
        Assert.That(full.Stdout, Does.Contain("blk.0.attn_q.weight       Q4_1").And.Contain("exact from codes"), full.Stdout);
        Assert.That(full.Stdout, Does.Contain("clipping started from the importance-weighted search"));
        var stopped = CliRunner.Run(Run(resumed, "--method", "omniquant", "--format", "gguf", "--stop-after-block", "1"));
        Assert.That(stopped.ExitCode, Is.EqualTo(1), stopped.ToString());
        var again = CliRunner.Run(Run(resumed, "--method", "omniquant", "--format", "gguf"));
        Assert.That(again.ExitCode, Is.EqualTo(0), again.ToString());
        Assert.That(again.Stdout, Does.Contain("resumed at block 2"));
        Assert.That(File.ReadAllBytes(resumed), Is.EqualTo(File.ReadAllBytes(whole)), "the resumed run's GGUF");
        var eval = CliRunner.Run("eval", "--model", whole, "--text", Eval, "--ctx", "64", "--max-windows", "2");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
    }

    [Test]
    public void ActOrderCodesNeedAnExplicitType()
    {
        string dir = NewOut();
        var q = CliRunner.Run(["quantize", .. Stories, "--method", "gptq", "--wbits", "4", "--group", "32", "--act-order",
            "--calib", Calib, "--nsamples", "2", "--seqlen", "32", "--out", dir]);
        Assert.That(q.ExitCode, Is.EqualTo(0), q.ToString());
        CliRunner.AssertCleanError(CliRunner.Run("export", "--to", "gguf", "--model", dir, "--out", NewOut() + ".gguf"), "act-order", "--type");
        var typed = CliRunner.Run("export", "--to", "gguf", "--model", dir, "--type", "q4_1", "--out", NewOut() + ".gguf");
        Assert.That(typed.ExitCode, Is.EqualTo(0), typed.ToString());
        Assert.That(typed.Stdout, Does.Contain("requantized from the dequantized weights"));
    }

    [Test]
    public void InfoReadsTheExportAndRefusesATruncatedFile()
    {
        string gguf = NewOut() + ".gguf";
        Assert.That(CliRunner.Run(["export", "--to", "gguf", .. Stories, "--type", "f16", "--out", gguf]).ExitCode, Is.EqualTo(0));
        var info = CliRunner.Run("info", "--model", gguf);
        Assert.That(info.ExitCode, Is.EqualTo(0), info.ToString());
        Assert.That(info.Stdout, Does.Contain("format               gguf").And.Contain("blk.0.attn_q.weight").And.Contain("F16"));
        string cut = NewOut() + ".gguf";
        File.WriteAllBytes(cut, File.ReadAllBytes(gguf)[..5000]);
        CliRunner.AssertCleanError(CliRunner.Run("info", "--model", cut), cut);
    }
}
