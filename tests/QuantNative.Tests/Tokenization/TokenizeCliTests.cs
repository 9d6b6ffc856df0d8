using System.Globalization;
using System.Text.Json;
using NUnit.Framework;

using static QuantNative.Tests.Cli.CliRunner;

namespace QuantNative.Tests.Tokenization;

/// <summary>`qn tokenize`: the eval protocol's ids (BOS as the template says), --json, and bad input.</summary>
public class TokenizeCliTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private static string Dir(string name) => Path.Combine(TestPaths.Shared, "tokenizers", name);

    private static int[] Lines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToArray();

    private static int[] Reference(string name, string textPath) =>
        Lines(File.ReadAllText(Path.Combine(Dir(name), "reference", Path.GetFileName(textPath) + ".ids.txt")));

    [Test]
    public void TokenizerFileGivesTheReferenceIds()
    {
        // Qwen: no BOS.
        var o = Run("tokenize", "--tokenizer", Path.Combine(Dir("qwen"), "tokenizer.json"), "--text", TestPaths.TinyStories);
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(Lines(o.Stdout), Is.EqualTo(Reference("qwen", TestPaths.TinyStories)));
    }

    [Test]
    public void ModelDirectoryGivesTheReferenceIdsWithBos()
    {
        var o = Run("tokenize", "--model", Dir("llama3-bos"), "--text", TestPaths.WikiText);
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        int[] ids = Lines(o.Stdout);
        Assert.That(ids[0], Is.EqualTo(128000));
        Assert.That(ids, Is.EqualTo(Reference("llama3-bos", TestPaths.WikiText)));
    }

    [Test]
    public void JsonHasIdsAndPieces()
    {
        string text = Path.Combine(_dir, "t.txt");
        File.WriteAllText(text, "Hello world<s>");
        var o = Run("tokenize", "--model", Dir("mistral"), "--text", text, "--json");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        using var doc = JsonDocument.Parse(o.Stdout);
        int[] ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        string[] pieces = doc.RootElement.GetProperty("pieces").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.That(pieces, Is.EqualTo(new[] { "<s>", "▁Hello", "▁world", "<s>" }));
        Assert.That(ids, Has.Length.EqualTo(4));
        Assert.That((ids[0], ids[3]), Is.EqualTo((1, 1)));
    }

    [Test]
    public void BadInput()
    {
        string missing = Path.Combine(_dir, "missing.json");
        AssertCleanError(Run("tokenize", "--tokenizer", missing, "--text", TestPaths.TinyStories), missing);
        AssertCleanError(Run("tokenize", "--text", TestPaths.TinyStories), "--tokenizer", "--model");
        string noText = Path.Combine(_dir, "none.txt");
        AssertCleanError(Run("tokenize", "--model", Dir("qwen"), "--text", noText), "--text", noText);
        string broken = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(broken, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
        AssertCleanError(Run("tokenize", "--tokenizer", broken, "--text", TestPaths.TinyStories), broken, "Whitespace");
        AssertCleanError(Run("tokenize", "--model", _dir, "--text", TestPaths.TinyStories), broken);
    }
}
