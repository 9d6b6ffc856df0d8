using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>
/// stories260K as a Hugging Face directory (qn convert) and as an RTN W4 g32 GPTQ directory (qn quantize), made once
/// per fixture in a temporary folder; tests that break files work on copies (<see cref="CopyOf"/>).
/// </summary>
public abstract class StoriesCheckpoints
{
    protected string Fixture { get; private set; } = "";
    protected string Hf { get; private set; } = "";
    protected string Gptq { get; private set; } = "";

    [OneTimeSetUp]
    public void MakeCheckpoints()
    {
        Fixture = TestPaths.NewTempDir();
        Hf = Path.Combine(Fixture, "hf");
        Gptq = Path.Combine(Fixture, "gptq");
        Assert.That(CliRunner.Run("convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--out", Hf).ExitCode, Is.Zero);
        Assert.That(CliRunner.Run("quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--method", "rtn",
            "--wbits", "4", "--group", "32", "--out", Gptq).ExitCode, Is.Zero);
    }

    [OneTimeTearDown] public void RemoveFixture() => Directory.Delete(Fixture, true);

    /// <summary>A fresh copy of the files of <paramref name="dir"/>, inside <paramref name="under"/> (default: the fixture).</summary>
    protected string CopyOf(string dir, string? under = null)
    {
        string to = Path.Combine(under ?? Fixture, Path.GetFileName(dir) + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(dir)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        return to;
    }
}
