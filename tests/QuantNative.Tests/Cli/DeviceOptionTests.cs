using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>`--device cpu|cuda|emulate` and `qn bench fakequant`.</summary>
public class DeviceOptionTests
{
    [Test]
    public void DeviceCuda_WithoutGpu_OneLineAndNonZeroExit()
    {
        GpuDevice.IgnoreWherePresent();
        var o = CliRunner.Run("bench", "fakequant", "--device", "cuda", "--rows", "8", "--cols", "64");
        Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
        Assert.That(o.Stderr, Does.StartWith("error: no CUDA device: "), o.ToString());
        Assert.That(o.Stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), o.ToString());
        Assert.That(o.Stdout, Is.Empty);
    }

    [Test]
    public void BenchFakeQuant_Emulate_RunsAndChecksAgainstCpu()
    {
        var o = CliRunner.Run("bench", "fakequant", "--device", "emulate", "--rows", "17", "--cols", "300", "--group",
            "100", "--bits", "3");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("[17, 300] W3 g100 on emulate"));
        Assert.That(o.Stdout, Does.Contain("codes 5100/5100 equal"));
        Assert.That(o.Stdout, Does.Contain("saved state 0 differ"));
        Assert.That(o.Stdout, Does.Contain("result: match"));
        Assert.That(o.Stdout, Does.Not.Contain("GB/s"), "no timings on the emulator");
    }

    [Test]
    public void BenchFakeQuant_Cpu_TimesTheCpuBackend()
    {
        var o = CliRunner.Run("bench", "fakequant", "--rows", "16", "--cols", "256", "--group", "-1", "--bits", "2",
            "--runs", "1");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        Assert.That(o.Stdout, Does.Contain("on cpu"));
        Assert.That(o.Stdout, Does.Contain("GB/s"));
        Assert.That(o.Stdout, Does.Contain("check: none"), "cpu is the reference: comparing it with itself would prove nothing");
    }

    [Test]
    public void BenchFakeQuant_BadShape_OneLine()
    {
        var o = CliRunner.Run("bench", "fakequant", "--device", "emulate", "--bits", "9");
        Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
        Assert.That(o.Stderr, Does.StartWith("error: ").And.Contain("9 bits"));
    }

    [Test]
    public void BenchForward_RefusesOtherDevices()
    {
        var o = CliRunner.Run("bench", "forward", "--device", "emulate");
        Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
        Assert.That(o.Stderr, Does.Contain("CPU engine only"));
    }

    [Test]
    public void UnknownDevice_IsAUsageError()
    {
        var o = CliRunner.Run("bench", "fakequant", "--device", "tpu");
        Assert.That(o.ExitCode, Is.EqualTo(2), o.ToString());
    }
}
