using System.Text;
using NUnit.Framework;
using QuantNative.Cli.Builtin;

namespace QuantNative.Tests.Cli.FirstFive;

/// <summary>
/// The built-in model and texts: that they are the real stories260K and byte-exact, disjoint TinyStories excerpts cut
/// at story boundaries, that their licences ship, and that the verbs use them when --model / --text / --calib are left
/// out (saying so first), for the built-in model and the models made from it only.
/// </summary>
public class BuiltinModelTests
{
    [Test]
    public void EmbeddedModelAndTokenizerAreStories260KByteForByte()
    {
        Assert.That(BuiltinModel.ResourceBytes("stories260K.bin"), Is.EqualTo(File.ReadAllBytes(TestPaths.Stories260K)));
        Assert.That(BuiltinModel.ResourceBytes("tok512.bin"), Is.EqualTo(File.ReadAllBytes(TestPaths.Tok512)));
        Assert.That(File.ReadAllBytes(BuiltinModel.ModelPath), Is.EqualTo(File.ReadAllBytes(TestPaths.Stories260K)),
            "the extracted copy");
    }

    [Test]
    public void SlicesAreDisjointExcerptsCutAtStoryBoundaries()
    {
        byte[] source = File.ReadAllBytes(TestPaths.TinyStories);
        var starts = new List<long>();
        foreach (var name in new[] { "tinystories-calibration.txt", "tinystories-heldout.txt" })
        {
            byte[] slice = BuiltinModel.ResourceBytes(name);
            Assert.That(slice.Length, Is.InRange(100_000, 200_000), $"{name}: about 150 KB");
            long at = source.AsSpan().IndexOf(slice);
            Assert.That(at, Is.GreaterThanOrEqualTo(0), $"{name} is a byte-exact excerpt of the validation text");
            var before = Encoding.UTF8.GetString(source, (int)at - 2, 2);
            var after = Encoding.UTF8.GetString(source, (int)at + slice.Length, 1 + "Once upon a time".Length);
            Assert.That(before, Is.EqualTo("\n\n"), $"{name} starts after a blank line");
            Assert.That(Encoding.UTF8.GetString(slice, 0, 16), Is.EqualTo("Once upon a time"), $"{name} starts with a story");
            Assert.That(slice[^1], Is.EqualTo((byte)'\n'), $"{name} ends with its last line's newline");
            Assert.That(after, Is.EqualTo("\nOnce upon a time"), $"{name} ends where the next story starts, after a blank line");
            starts.Add(at);
            starts.Add(at + slice.Length);
        }
        Assert.That(starts[1], Is.LessThan(starts[2]), "the calibration slice ends before the held-out slice starts");
    }

    [Test]
    public void LicencesAreInTheRepositoryAndShipWithTheTool()
    {
        foreach (var (file, mentions) in new[] { ("LICENSE-stories260K.txt", "MIT License"), ("LICENSE-TinyStories.txt", "CDLA-Sharing-1.0") })
        {
            string source = Path.Combine(TestPaths.RepoRoot, "src", "QuantNative.Cli", "Builtin", file);
            Assert.That(File.ReadAllText(source), Does.Contain(mentions));
            Assert.That(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "licenses", file)), Is.EqualTo(File.ReadAllText(source)),
                "beside the built tool");
        }
    }

    [Test]
    public void EvalWithoutModelOrTextRunsTheBuiltinModelOnItsHeldOutSliceAndSaysSoFirst()
    {
        var builtin = CliRunner.Run("eval", "--ctx", "64", "--max-windows", "3", "--json");
        Assert.That(builtin.ExitCode, Is.Zero, builtin.ToString());
        Assert.That(builtin.Stderr, Does.StartWith("model: builtin:stories260K ("));
        Assert.That(builtin.Stderr, Does.Contain("text: builtin:tinystories-heldout"));
        // The same numbers as the shared model on the same text, named explicitly.
        var named = CliRunner.Run("eval", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--text", BuiltinModel.HeldOutPath, "--ctx", "64", "--max-windows", "3", "--json");
        Assert.That(named.ExitCode, Is.Zero, named.ToString());
        Assert.That(Field(builtin.Stdout, "nll"), Is.EqualTo(Field(named.Stdout, "nll")));
        Assert.That(builtin.Stdout, Does.StartWith("{"), "stdout stays JSON only");
    }

    [Test]
    public void BuiltinCanBeNamedAndTakesNoOtherTokenizer()
    {
        var named = CliRunner.Run("info", "--model", "builtin:stories260K");
        Assert.That(named.ExitCode, Is.Zero, named.ToString());
        Assert.That(named.Stdout, Does.StartWith("model                builtin:stories260K"));
        Assert.That(named.Stderr, Does.Contain("named by --model"));
        CliRunner.AssertCleanError(CliRunner.Run("eval", "--model", "builtin:stories260K", "--tokenizer", TestPaths.Tok512),
            "--tokenizer", "has its own tokenizer");
        // An empty --model is a mistake, not a request for the built-in model.
        CliRunner.AssertCleanError(CliRunner.Run("eval", "--model", ""), "--model", "empty value");
        CliRunner.AssertCleanError(CliRunner.Run("info", "--model", " "), "--model", "empty value");
    }

    [Test]
    public void ModelsMadeFromTheBuiltinGetItsTextsOthersMustGiveTheirs()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string rtn = Path.Combine(dir, "rtn");
            var quantize = CliRunner.Run("quantize", "--method", "rtn", "--wbits", "4", "--group", "32", "--out", rtn);
            Assert.That(quantize.ExitCode, Is.Zero, quantize.ToString());
            Assert.That(quantize.Stdout, Does.Contain("model          builtin:stories260K"));
            var eval = CliRunner.Run("eval", "--model", rtn, "--ctx", "64", "--max-windows", "2");
            Assert.That(eval.ExitCode, Is.Zero, eval.ToString());
            Assert.That(eval.Stdout, Does.Contain("text         builtin:tinystories-heldout"));

            string gptq = Path.Combine(dir, "gptq");
            var calibrated = CliRunner.Run("quantize", "--method", "gptq", "--wbits", "4", "--group", "32", "--nsamples", "2",
                "--out", gptq);
            Assert.That(calibrated.ExitCode, Is.Zero, calibrated.ToString());
            Assert.That(calibrated.Stdout, Does.Contain("2 windows × 256 tokens, seed 0, from builtin:tinystories-calibration"));
            Assert.That(calibrated.Stderr, Does.Contain("calib: builtin:tinystories-calibration"));

            string other = Path.Combine(TestPaths.Shared, "models", "synthetic", "llama3");
            CliRunner.AssertCleanError(CliRunner.Run("eval", "--model", other), "--text", "builtin:stories260K");
            CliRunner.AssertCleanError(CliRunner.Run("quantize", "--model", other, "--method", "gptq", "--wbits", "4",
                "--out", Path.Combine(dir, "x")), "--calib");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static double Field(string json, string name) =>
        System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty(name).GetDouble();
}
