using NUnit.Framework;
using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Verification;

namespace QuantNative.Tests.Cuda;

/// <summary>
/// The CPU backend and the CUDA backend on the emulator side by side (<see cref="DevicePair"/>, which `qn
/// test-backend` uses too): the same inputs uploaded to both, outputs poisoned (NaN) on both before an op runs, and the
/// results compared by ‖cuda − cpu‖₂/‖cpu‖₂ with NUnit assertions.
/// </summary>
public sealed class BackendPair() : DevicePair(Backend.Create(DeviceKind.Emulate))
{
    public IBackend Cuda => Device;

    /// <summary>‖cuda − cpu‖/‖cpu‖ of <paramref name="t"/> below <paramref name="tolerance"/>; NaN (an unwritten
    /// element) fails. Prints the error so a tolerance can be checked against what is measured.</summary>
    public static double AssertClose(Tensor t, double tolerance, string what)
    {
        double rel = RelativeError(t);
        TestContext.Out.WriteLine($"{what}: {rel:G3}");
        if (!(rel < tolerance) && !(rel == 0 && tolerance == 0))
        {
            TestContext.Out.WriteLine($"{what} cpu:  {string.Join(", ", t.OnCpu.ToArray().Take(64))}");
            TestContext.Out.WriteLine($"{what} cuda: {string.Join(", ", t.OnDevice.ToArray().Take(64))}");
        }
        Assert.That(rel, tolerance == 0 ? Is.EqualTo(0) : Is.LessThan(tolerance), what);
        return rel;
    }

    /// <summary>Every check of an op case (TrainingOpCases, as `qn test-backend` runs them) within its tolerance,
    /// each printed so a tolerance can be checked against what is measured.</summary>
    public static void AssertAll(IReadOnlyList<OpCheck> checks)
    {
        foreach (var c in checks) TestContext.Out.WriteLine($"{c.Output}: {c.Error:G3} ({c.Measure}, tolerance {c.Tolerance:G3})");
        var failed = checks.Where(c => !c.Passed).Select(c => $"{c.Output}: {c.Error:G3} {c.Measure} (tolerance {c.Tolerance:G3})");
        Assert.That(failed, Is.Empty);
    }

    /// <summary>Bit-for-bit equality (the kernels that repeat the reference's float operations).</summary>
    public static void AssertEqual(Tensor t, string what)
    {
        float[] expected = t.OnCpu.ToArray(), actual = t.OnDevice.ToArray();
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: cuda {actual[i]:R} != cpu {expected[i]:R}");
    }
}
