using System.Text.Json;
using NUnit.Framework;
using QuantNative.Verification;

namespace QuantNative.Tests.Cli;

/// <summary>
/// `qn test-backend` on the emulator: every case of the default (small) set passes; a deliberately wrong kernel
/// planted through the test hook (RoPE's backward, which rotates by −θ, launched for its forward) is reported as FAIL
/// with exit code 1; the selection and the JSON report. The GPU run is tools/device-check.sh's first step.
/// </summary>
[NonParallelizable] // the swap hook is an environment variable of this process
public class TestBackendCliTests
{
    [Test]
    public void Emulator_PassesEveryCase()
    {
        var o = CliRunner.Run("test-backend", "--device", "emulate");
        TestContext.Out.WriteLine(o.Stdout);
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        var last = o.Stdout.TrimEnd().Split('\n')[^1];
        int cases = BackendOpRunner.Select(null, large: false).Count;
        Assert.That(last, Does.StartWith($"{cases} passed, 0 failed, 0 skipped"), o.ToString());
        // Every op family of the CUDA backend is in the run.
        foreach (var op in new[] { "linear", "rmsnorm", "rope", "attention", "swiglu", "mse", "adamw", "sde-columns",
                     "sde-masked-dot", "add-bias", "fakequant-lwc", "lowbit-gemv", "lowbit-mma", "lowbit-splitk",
                     "lowbit-actorder", "lowbit-gather", "cublas-sgemm", "cublas-gemmex-f16", "cusolver-gesvd",
                     "cusolver-gesvdj-batched" })
            Assert.That(o.Stdout, Does.Contain("\n" + op + " "), op);
    }

    [Test]
    public void AWrongKernel_IsReportedAsFail_WithExitCode1()
    {
        Environment.SetEnvironmentVariable(KernelSwappingRuntime.Variable, "qn_rope_forward_f32=qn_rope_backward_f32");
        try
        {
            var o = CliRunner.Run("test-backend", "--device", "emulate", "--op", "rope,swiglu");
            TestContext.Out.WriteLine(o.Stdout);
            Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
            var rope = o.Stdout.Split('\n').Where(l => l.StartsWith("rope ", StringComparison.Ordinal)).ToList();
            // Position 0 rotates by 0 either way: the one-row case cannot tell; every other one must fail.
            Assert.That(rope.Count(l => l.TrimEnd().EndsWith("FAIL", StringComparison.Ordinal)), Is.EqualTo(rope.Count - 1), o.ToString());
            Assert.That(o.Stdout.Split('\n').Where(l => l.StartsWith("swiglu ", StringComparison.Ordinal)),
                Has.All.EndsWith("pass"), "the other ops are unaffected");
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelSwappingRuntime.Variable, null);
        }
    }

    [Test]
    public void Json_HasEveryCheck_AndSelectionByGlob()
    {
        var o = CliRunner.Run("test-backend", "--device", "emulate", "--op", "lowbit-g*", "--json");
        Assert.That(o.ExitCode, Is.EqualTo(0), o.ToString());
        using var doc = JsonDocument.Parse(o.Stdout);
        var root = doc.RootElement;
        var ops = root.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("op").GetString()).Distinct();
        Assert.That(ops, Is.EquivalentTo(new[] { "lowbit-gemv", "lowbit-gather" }));
        Assert.That(root.GetProperty("failed").GetInt32(), Is.EqualTo(0));
        foreach (var r in root.GetProperty("results").EnumerateArray())
        foreach (var c in r.GetProperty("checks").EnumerateArray())
            Assert.That(c.GetProperty("error").GetDouble(), Is.LessThanOrEqualTo(c.GetProperty("tolerance").GetDouble()));
    }

    [Test]
    public void BadArguments_AreCleanErrors()
    {
        CliRunner.AssertCleanError(CliRunner.Run("test-backend", "--device", "emulate", "--op", "nosuchop"),
            "--op 'nosuchop' matches no op", "lowbit-gemv");
        CliRunner.AssertCleanError(CliRunner.Run("test-backend", "--device", "cpu"), "--device cuda or emulate");
        Environment.SetEnvironmentVariable(KernelSwappingRuntime.Variable, "broken");
        try
        {
            CliRunner.AssertCleanError(CliRunner.Run("test-backend", "--device", "emulate", "--op", "rope"),
                KernelSwappingRuntime.Variable, "expected kernel=replacement");
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelSwappingRuntime.Variable, null);
        }
    }

    [Test]
    public void Cuda_WithoutAGpu_SaysSo()
    {
        GpuDevice.IgnoreWherePresent();
        CliRunner.AssertCleanError(CliRunner.Run("test-backend", "--device", "cuda", "--op", "rope"), "no CUDA device");
    }
}
