using System.Text.Json;
using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>
/// `qn bench decode --json` (issue 13's fields) and `--decode-activations` on `bench decode` and `generate`, on
/// stories260K's RTN W4 g32 directory: both activation types run, the JSON's figures agree with each other, and a wrong
/// value is refused naming the option.
/// </summary>
public class BenchDecodeCliTests : StoriesCheckpoints
{
    [TestCase("int8")]
    [TestCase("fp32")]
    public void BenchDecodeJsonHasTheIssuesFields(string activations)
    {
        var run = CliRunner.Run("bench", "decode", "--model", Gptq, "--tokens", "4", "--runs", "1", "--json",
            "--decode-activations", activations);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var json = JsonDocument.Parse(run.Stdout).RootElement;
        double Number(string name) => json.GetProperty(name).GetDouble();
        Assert.That(json.GetProperty("decode_activations").GetString(), Is.EqualTo(activations == "fp32" ? "float32" : "int8"));
        Assert.That(Number("tokens_per_second"), Is.GreaterThan(0));
        Assert.That(Number("copy_gbps"), Is.GreaterThan(0));
        // Bytes per token: every block linear's packed codes and fp16 scale/zero words plus the fp32 lm_head (tied to
        // the embedding: 512 × 64 floats), and the fraction is weight GB/s over copy GB/s.
        Assert.That(Number("weight_bytes_per_token"), Is.GreaterThan(512 * 64 * 4));
        Assert.That(Number("weight_gbps"), Is.EqualTo(Number("weight_bytes_per_token") * Number("tokens_per_second") / 1e9).Within(1e-9).Percent);
        Assert.That(Number("fraction_of_copy"), Is.EqualTo(Number("weight_gbps") / Number("copy_gbps")).Within(1e-9).Percent);
    }

    [Test]
    public void GenerateRunsOnEitherActivationType()
    {
        foreach (var activations in new[] { "int8", "fp32" })
        {
            var run = CliRunner.Run("generate", "--model", Gptq, "--prompt", "Once upon a time", "--max-tokens", "8",
                "--decode-activations", activations);
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stderr, Does.Contain("generated 8 tokens").Or.Contain("stop: "));
        }
    }

    [Test]
    public void AWrongActivationTypeIsRefusedByName()
    {
        foreach (var verb in new[] { new[] { "generate", "--model", Gptq, "--max-tokens", "2" },
                                     new[] { "bench", "decode", "--model", Gptq, "--tokens", "2", "--runs", "1" } })
        {
            var run = CliRunner.Run([.. verb, "--decode-activations", "int4"]);
            Assert.That(run.ExitCode, Is.Not.Zero);
            Assert.That(run.Stderr, Does.Contain("--decode-activations: 'int4'"), run.ToString());
            Assert.That(run.Stderr, Does.Not.Contain("   at "), "no stack trace");
        }
    }
}
