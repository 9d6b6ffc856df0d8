using System.Text.Json;
using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>
/// `qn generate --device emulate` and `qn bench decode --device emulate` through the device decode path
/// (DeviceInferenceSession): the same greedy ids as the CPU engine from the command line, the placement in the summary,
/// seeded sampling (the last row's logits come back) equal to the CPU's, and --device cuda without a GPU one clean line.
/// The equality itself on every model is Inference/Device/DeviceGreedyTests; this checks the verbs' wiring.
/// </summary>
public class GenerateDeviceCliTests
{
    private static CliRunner.Outcome Generate(string device, params string[] extra) =>
        CliRunner.Run(["generate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--prompt",
            "Once upon a time", "--max-tokens", "20", "--json", "--device", device, .. extra]);

    private static int[] Ids(CliRunner.Outcome o) =>
        JsonDocument.Parse(o.Stdout).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    [TestCase()]
    [TestCase("--temperature", "0.8", "--top-p", "0.9", "--seed", "3")]
    public void Emulate_GivesTheCpusTokens(params string[] sampling)
    {
        var cpu = Generate("cpu", sampling);
        var emulate = Generate("emulate", sampling);
        Assert.That(cpu.ExitCode, Is.EqualTo(0), cpu.ToString());
        Assert.That(emulate.ExitCode, Is.EqualTo(0), emulate.ToString());
        Assert.That(Ids(emulate), Is.EqualTo(Ids(cpu)));
        Assert.That(emulate.Stderr, Does.Contain("every op on the device (CUDA emulator").And.Contain("lm_head: cuBLAS Sgemm"));
        Assert.That(cpu.Stderr, Does.Contain("on the CPU: fp32 arrays"));
    }

    [Test]
    public void Cuda_WithoutGpu_IsTheCleanNoDeviceError()
    {
        GpuDevice.IgnoreWherePresent();
        CliRunner.AssertCleanError(Generate("cuda"), "no CUDA device: ");
    }

    /// <summary>--decode-activations picks the CPU engine's GEMV; the device's kernels take fp16, so it is refused there.</summary>
    [Test]
    public void DecodeActivations_WithADevice_IsACleanError() =>
        CliRunner.AssertCleanError(Generate("emulate", "--decode-activations", "int8"), "--decode-activations", "fp16");

    [Test]
    public void BenchDecode_Emulate_ReportsTheDeviceRun()
    {
        var o = CliRunner.Run("bench", "decode", "--model", TestPaths.Stories260K, "--device", "emulate", "--tokens", "4", "--prompt-tokens", "9", "--runs", "1", "--json");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        var r = JsonDocument.Parse(o.Stdout).RootElement;
        Assert.That(r.GetProperty("device").GetString(), Does.StartWith("CUDA emulator"));
        Assert.That(r.GetProperty("decode_tokens").GetInt32(), Is.EqualTo(4));
        Assert.That(r.GetProperty("tokens_per_second").GetDouble(), Is.GreaterThan(0));
        Assert.That(r.GetProperty("weight_bytes_per_token").GetInt64(), Is.GreaterThan(0));
    }
}
