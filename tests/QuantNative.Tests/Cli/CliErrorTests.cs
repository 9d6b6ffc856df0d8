using NUnit.Framework;

using static QuantNative.Tests.Cli.CliRunner;

namespace QuantNative.Tests.Cli;

/// <summary>Bad input gives exit code 1 and one clear line naming the file or option — never a stack trace.</summary>
public class CliErrorTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private CliRunner.Outcome EvalStories(string text, params string[] extra) =>
        CliRunner.Run(["eval", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--text", text, .. extra]);

    [Test]
    public void MissingModel()
    {
        string missing = Path.Combine(_dir, "nope.bin");
        AssertCleanError(CliRunner.Run("info", "--model", missing), missing);
    }

    [Test]
    public void TruncatedCheckpoint()
    {
        string truncated = Path.Combine(_dir, "truncated.bin");
        var bytes = File.ReadAllBytes(TestPaths.Stories260K);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        AssertCleanError(CliRunner.Run("info", "--model", truncated), truncated);
        File.WriteAllBytes(truncated, bytes[..10]);
        AssertCleanError(CliRunner.Run("info", "--model", truncated), truncated);
    }

    [Test]
    public void EmptyText()
    {
        string empty = Path.Combine(_dir, "empty.txt");
        File.WriteAllText(empty, "");
        AssertCleanError(EvalStories(empty), empty, "empty");
    }

    [Test]
    public void NonUtf8Text()
    {
        string latin1 = Path.Combine(_dir, "latin1.txt");
        File.WriteAllBytes(latin1, [0x63, 0x61, 0x66, 0xE9]);
        AssertCleanError(EvalStories(latin1), latin1, "UTF-8");
    }

    [Test]
    public void CtxLargerThanTheModel() =>
        AssertCleanError(EvalStories(TestPaths.TinyStories, "--ctx", "1024"), "--ctx 1024", "512");

    [Test]
    public void TextShorterThanOneWindow()
    {
        string shortText = Path.Combine(_dir, "short.txt");
        File.WriteAllText(shortText, "Once upon a time there was a cat.");
        AssertCleanError(EvalStories(shortText, "--ctx", "256"), "one window", "--ctx 256");
    }

    [Test]
    public void MissingTokenizerForLlama2cModel() =>
        AssertCleanError(CliRunner.Run("eval", "--model", TestPaths.Stories260K, "--text", TestPaths.TinyStories), "--tokenizer");

    [Test]
    public void UnknownBenchmark() => AssertCleanError(CliRunner.Run("bench", "nothing"), "nothing");

    [Test]
    public void BadGenerateOptions() =>
        AssertCleanError(CliRunner.Run("generate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--temperature", "-1"), "--temperature");

    [Test]
    public void MissingRequiredOptionIsUsageError() =>
        Assert.That(CliRunner.Run("quantize", "--method", "rtn").ExitCode, Is.EqualTo(2), "--wbits and --out are required");
}
