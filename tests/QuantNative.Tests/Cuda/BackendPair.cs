using NUnit.Framework;
using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Tests.Training;

namespace QuantNative.Tests.Cuda;

/// <summary>
/// The CPU backend and the CUDA backend on the emulator side by side: the same inputs uploaded to both, outputs
/// poisoned (NaN) on both before an op runs, and the results compared by ‖cuda − cpu‖₂/‖cpu‖₂.
/// </summary>
public sealed class BackendPair : IDisposable
{
    public CpuBackend Cpu { get; } = new();
    public IBackend Cuda { get; } = Backend.Create(DeviceKind.Emulate);

    /// <summary>A tensor on both backends.</summary>
    public sealed record Tensor(BackendBuffer<float> OnCpu, BackendBuffer<float> OnCuda);

    public Tensor Of(float[] values)
    {
        var a = Cpu.Allocate<float>(values.Length);
        var b = Cuda.Allocate<float>(values.Length);
        a.Upload(values);
        b.Upload(values);
        return new Tensor(a, b);
    }

    public Tensor Random(Random random, long n, double lo = -1, double hi = 1) =>
        Of(TestTensors.ToFloat(TestTensors.Uniform(random, n, lo, hi)));

    public Tensor Poisoned(long n) => Of(TestTensors.Poisoned<float>(n));

    /// <summary>The op on each backend with its own buffers.</summary>
    public void Run(Action<IBackend, Func<Tensor, BackendBuffer<float>>> op)
    {
        op(Cpu, t => t.OnCpu);
        op(Cuda, t => t.OnCuda);
        Cuda.Synchronize();
    }

    /// <summary>‖cuda − cpu‖/‖cpu‖ of <paramref name="t"/> below <paramref name="tolerance"/>; NaN (an unwritten
    /// element) fails. Prints the error so a tolerance can be checked against what is measured.</summary>
    public static double AssertClose(Tensor t, double tolerance, string what)
    {
        float[] expected = t.OnCpu.ToArray(), actual = t.OnCuda.ToArray();
        double rel = TestTensors.RelativeError(actual, TestTensors.ToDouble(expected), expected.Length);
        if (TestTensors.ToDouble(expected).All(v => v == 0)) rel = actual.All(v => v == 0) ? 0 : double.PositiveInfinity;
        TestContext.Out.WriteLine($"{what}: {rel:G3}");
        if (!(rel < tolerance) && !(rel == 0 && tolerance == 0))
        {
            TestContext.Out.WriteLine($"{what} cpu:  {string.Join(", ", expected.Take(64))}");
            TestContext.Out.WriteLine($"{what} cuda: {string.Join(", ", actual.Take(64))}");
        }
        Assert.That(rel, tolerance == 0 ? Is.EqualTo(0) : Is.LessThan(tolerance), what);
        return rel;
    }

    /// <summary>
    /// A tensor that is exactly 0 in exact arithmetic and on the CPU, where the CUDA kernels' other summation order
    /// leaves float rounding noise: the CPU's must be 0 and ‖cuda‖/‖scale‖ below <paramref name="tolerance"/>, scale
    /// a tensor of the size of the terms the noise comes from (‖cpu − cuda‖/‖cpu‖ would divide by 0). NaN fails.
    /// </summary>
    public static void AssertRoundingOfZero(Tensor t, Tensor scale, double tolerance, string what)
    {
        float[] expected = t.OnCpu.ToArray(), actual = t.OnCuda.ToArray();
        Assert.That(expected, Is.All.EqualTo(0f), $"{what} on the CPU");
        double rel = Norm(actual) / Norm(scale.OnCpu.ToArray());
        TestContext.Out.WriteLine($"{what}: ‖cuda‖/‖scale‖ = {rel:G3}");
        Assert.That(rel, Is.LessThan(tolerance), $"{what}: rounding noise of an exact 0");
    }

    private static double Norm(float[] a) => Math.Sqrt(a.Sum(v => (double)v * v));

    /// <summary>Bit-for-bit equality (the kernels that repeat the reference's float operations).</summary>
    public static void AssertEqual(Tensor t, string what)
    {
        float[] expected = t.OnCpu.ToArray(), actual = t.OnCuda.ToArray();
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: cuda {actual[i]:R} != cpu {expected[i]:R}");
    }

    public void Dispose()
    {
        Cuda.Dispose();
        Cpu.Dispose();
    }
}
