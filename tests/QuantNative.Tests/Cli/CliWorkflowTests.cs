using System.Text.Json;
using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>The main job on the real model: info, eval, generate, and convert to a directory that needs no other file.</summary>
public class CliWorkflowTests
{
    private string _dir = "";

    [OneTimeSetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [OneTimeTearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private static JsonElement EvalJson(params string[] modelArgs)
    {
        var o = CliRunner.Run(["eval", .. modelArgs, "--text", TestPaths.TinyStories, "--ctx", "128", "--max-windows", "3", "--json"]);
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        return JsonDocument.Parse(o.Stdout).RootElement;
    }

    [Test]
    public void EvalPrintsTheProtocolAsJson()
    {
        var json = EvalJson("--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512);
        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("windows").GetInt32(), Is.EqualTo(3));
            Assert.That(json.GetProperty("tokens").GetInt64(), Is.EqualTo(3 * 128));
            Assert.That(json.GetProperty("predicted").GetInt64(), Is.EqualTo(3 * 127));
            Assert.That(json.GetProperty("bos").GetBoolean(), Is.True, "llama2.c's template starts the stream with BOS");
            double nll = json.GetProperty("nll").GetDouble();
            Assert.That(json.GetProperty("ppl").GetDouble(), Is.EqualTo(Math.Exp(nll)).Within(1e-9));
            Assert.That(nll, Is.InRange(0.5, 3.0), "a trained model on its own domain");
            Assert.That(json.GetProperty("seconds").GetDouble(), Is.GreaterThan(0));
            Assert.That(json.GetProperty("tokens_per_second").GetDouble(), Is.GreaterThan(0));
        });
    }

    [Test]
    public void ConvertedDirectoryEvaluatesAloneToTheSamePerplexity()
    {
        string outDir = Path.Combine(_dir, "hf");
        var convert = CliRunner.Run("convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--out", outDir);
        Assert.That(convert.ExitCode, Is.EqualTo(0), convert.ToString());
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.model", "tokenizer.json", "tokenizer_config.json" })
            Assert.That(File.Exists(Path.Combine(outDir, f)), f);

        var original = EvalJson("--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512);
        var converted = EvalJson("--model", outDir);
        Assert.That(converted.GetProperty("text_tokens").GetInt64(), Is.EqualTo(original.GetProperty("text_tokens").GetInt64()));
        Assert.That(converted.GetProperty("nll").GetDouble(),
            Is.EqualTo(original.GetProperty("nll").GetDouble()).Within(Tolerances.SameModelReorderedAbs));

        var again = CliRunner.Run("convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--out", outDir);
        Assert.That(again.ExitCode, Is.EqualTo(1), "an existing output is refused without --force");
        Assert.That(again.Stderr, Does.Contain(outDir));
        var info = CliRunner.Run("info", "--model", outDir);
        Assert.That(info.Stdout, Does.Contain("huggingface").And.Contain("model.layers.4.mlp.down_proj.weight"));
    }

    [Test]
    public void GreedyGenerationIsDeterministicAndContinuesThePrompt()
    {
        string[] args = ["generate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512,
            "--prompt", "Once upon a time", "--max-tokens", "40"];
        var first = CliRunner.Run(args);
        var second = CliRunner.Run(args);
        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());
        Assert.That(first.Stdout, Does.StartWith("Once upon a time"));
        Assert.That(first.Stdout.Length, Is.GreaterThan("Once upon a time".Length + 20));
        Assert.That(second.Stdout, Is.EqualTo(first.Stdout));
        Assert.That(first.Stderr, Does.Contain("tokens"));
    }

    [Test]
    public void SampledGenerationDependsOnTheSeed()
    {
        CliRunner.Outcome Run(int seed) => CliRunner.Run("generate", "--model", TestPaths.Stories260K, "--tokenizer",
            TestPaths.Tok512, "--prompt", "The dog", "--max-tokens", "60", "--temperature", "1", "--seed", seed.ToString());
        Assert.That(Run(1).Stdout, Is.EqualTo(Run(1).Stdout));
        Assert.That(Run(1).Stdout, Is.Not.EqualTo(Run(2).Stdout));
    }

    [TestCase("forward", "block / sgemm throughput")]
    [TestCase("step", "step / sgemm throughput")]
    public void BenchmarksRunOnATinyBlock(string what, string summary)
    {
        var o = CliRunner.Run("bench", what, "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--intermediate", "40",
            "--tokens", "9", "--runs", "1");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain(summary).And.Contain("GFLOP/s"));
    }

    [Test]
    public void OmniQuantBenchmarkTimesTheLoopOnATinyBlock()
    {
        var o = CliRunner.Run("bench", "omniquant", "--hidden", "32", "--heads", "4", "--intermediate", "40",
            "--tokens", "16", "--windows", "3", "--epochs", "2", "--bits", "3", "--group", "16");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("omniquant epoch").And.Contain("epoch / sgemm throughput"));
    }
}
