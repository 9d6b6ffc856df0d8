using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>
/// `qn bench gemm` and `qn bench svd`: on the emulator every case is checked and reported ("ok", no timings) — the
/// GEMV for M ≤ 8 and the tensor-core kernel above; bad lists and a missing GPU are one clean error line.
/// </summary>
public class BenchGemmSvdCliTests
{
    [Test]
    public void Gemm_Emulate_ChecksEveryCase()
    {
        var o = CliRunner.Run("bench", "gemm", "--device", "emulate", "--shapes", "40x128", "--bits", "2,3,4",
            "--batch", "1,4,16", "--group", "32");
        TestContext.Out.WriteLine(o.ToString());
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        var rows = o.Stdout.Split('\n').Where(l => l.Contains("40×128"))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.That(rows, Has.Count.EqualTo(9), "3 bits × 3 batches");
        Assert.That(rows.Select(c => c[^1]), Has.All.EqualTo("ok"));
        Assert.That(rows.Count(c => c[2] == "16"), Is.EqualTo(3), "M = 16 runs the tensor-core kernel");
        Assert.That(o.Stdout, Does.Not.Contain("DIFFERS"));
        Assert.That(o.Stdout, Does.Not.Contain("µs"), "no timings on the emulator");
    }

    [Test]
    public void Gemm_Emulate_Json_HasOneCasePerShapeBitsAndBatch()
    {
        var o = CliRunner.Run("bench", "gemm", "--device", "emulate", "--shapes", "2x32x64", "--bits", "4", "--group",
            "32", "--json");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(o.Stdout);
        var cases = doc.RootElement.GetProperty("cases");
        Assert.That(cases.GetArrayLength(), Is.EqualTo(1), "MxNxK fixes M");
        Assert.That(cases[0].GetProperty("m").GetInt32(), Is.EqualTo(2));
        Assert.That(cases[0].GetProperty("ok").GetBoolean(), Is.True);
    }

    [Test]
    public void Svd_Emulate_ChecksEveryShape()
    {
        var o = CliRunner.Run("bench", "svd", "--device", "emulate", "--shapes", "3x17,17x3,32x32,64x172", "--batch", "3");
        TestContext.Out.WriteLine(o.ToString());
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("gesvdj batched").And.Contain("gesvd "));
        Assert.That(o.Stdout.Split('\n').Count(l => l.TrimEnd().EndsWith("ok")), Is.EqualTo(4));
    }

    [TestCase("gemm", "--shapes", "4096x", "4096x")]
    [TestCase("gemm", "--shapes", "llama8b", "llama8b")]
    [TestCase("gemm", "--shapes", "0x64", "0x64")]
    [TestCase("gemm", "--bits", "4,5", "'5'")]
    [TestCase("gemm", "--bits", "four", "four")]
    [TestCase("gemm", "--batch", "1,,x", "'x'")]
    [TestCase("svd", "--shapes", "2x3x4", "2x3x4")]
    [TestCase("svd", "--batch", "2,3", "one batch size")]
    public void BadLists_AreCleanErrors(string what, string option, string value, string mention)
    {
        var o = CliRunner.Run("bench", what, "--device", "emulate", option, value);
        CliRunner.AssertCleanError(o, option, mention);
    }

    [TestCase("gemm")]
    [TestCase("svd")]
    public void DeviceCuda_WithoutGpu_IsTheCleanNoDeviceError(string what)
    {
        GpuDevice.IgnoreWherePresent();
        CliRunner.AssertCleanError(CliRunner.Run("bench", what, "--shapes", "64x64"), "no CUDA device: ");
        CliRunner.AssertCleanError(CliRunner.Run("bench", what, "--device", "cuda", "--shapes", "64x64"), "no CUDA device: ");
    }

    [Test]
    public void DeviceCpu_IsRefused() =>
        CliRunner.AssertCleanError(CliRunner.Run("bench", "gemm", "--device", "cpu"), "--device cuda or --device emulate");
}
