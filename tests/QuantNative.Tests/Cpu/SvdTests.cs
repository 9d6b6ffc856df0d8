using NUnit.Framework;
using QuantNative.Cuda;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// The CPU thin SVD (Svd.Thin over LAPACKE sgesdd) and the device SVD (DeviceSvd through a runtime: batched Jacobi for
/// ≤ 32×32, gesvd otherwise) on random matrices of awkward shapes: each reconstructs W, has orthonormal U and V and
/// sorted non-negative S, and the device path agrees with the CPU path on S. The emulator runs here; the driver path
/// is ignored without a CUDA device.
/// </summary>
public class SvdTests
{
    public static readonly (int Rows, int Cols)[] Shapes = [(1, 1), (3, 17), (17, 3), (32, 32), (64, 172), (172, 64), (1, 40), (33, 5)];

    private static IEnumerable<TestCaseData> ShapeCases() =>
        Shapes.Select(s => new TestCaseData(s.Rows, s.Cols).SetArgDisplayNames($"{s.Rows}x{s.Cols}"));

    [TestCaseSource(nameof(ShapeCases))]
    public void Cpu_Thin_IsAValidSvd(int rows, int cols)
    {
        var w = SvdChecks.RandomMatrix(new Random(rows * 1000 + cols), rows * cols);
        var copy = (float[])w.Clone();
        var svd = QuantNative.Cpu.Svd.Thin(w, rows, cols);
        Assert.That(w, Is.EqualTo(copy), "the input is not modified");
        SvdChecks.AssertValid(svd, w, $"cpu {rows}x{cols}");
    }

    [Test]
    public void Cpu_Thin_RecoversAKnownRankOneMatrix()
    {
        // W = 3·u·vᵀ with unit u, v: S = [3, 0, 0], U[:,0] = ±u, V[:,0] = ±v.
        float[] u = [0.6f, 0.8f, 0f], v = [0f, 1f, 0f, 0f];
        var w = new float[12];
        for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            w[i * 4 + j] = 3 * u[i] * v[j];
        var svd = QuantNative.Cpu.Svd.Thin(w, 3, 4);
        Assert.That(svd.S[0], Is.EqualTo(3f).Within(1e-6));
        Assert.That(svd.S[1], Is.EqualTo(0f).Within(1e-6));
        float sign = Math.Sign(svd.Ut[0]);
        for (int i = 0; i < 3; i++) Assert.That(svd.Ut[i] * sign, Is.EqualTo(u[i]).Within(1e-6)); // U[i, 0]
        for (int j = 0; j < 4; j++) Assert.That(svd.Vt[j] * sign, Is.EqualTo(v[j]).Within(1e-6)); // V[j, 0]
    }

    [Test]
    public void Cpu_Thin_RefusesAWrongLength()
    {
        var e = Assert.Throws<QuantNativeException>(() => QuantNative.Cpu.Svd.Thin(new float[5], 2, 3))!;
        Assert.That(e.Message, Does.Contain("[2, 3]"));
    }

    [TestCaseSource(nameof(ShapeCases))]
    public void Emulated_DeviceSvd_IsAValidSvd_AndMatchesCpu(int rows, int cols)
    {
        using var runtime = new EmulatedCudaRuntime();
        CheckDevice(runtime, rows, cols, batch: 1);
    }

    [Test]
    public void Emulated_BatchOfFive32x32_IsValid_AndMatchesCpu()
    {
        using var runtime = new EmulatedCudaRuntime();
        CheckDevice(runtime, 32, 32, batch: 5);
    }

    [Test]
    public void Emulated_BatchOfWideMatrices_IsValid_AndMatchesCpu()
    {
        using var runtime = new EmulatedCudaRuntime();
        CheckDevice(runtime, 3, 17, batch: 4);
        CheckDevice(runtime, 17, 3, batch: 3);
    }

    [Test]
    public void Emulated_GesvdPath_BatchOfLargeMatrices_IsValid()
    {
        using var runtime = new EmulatedCudaRuntime();
        Assert.That(DeviceSvd.Choose(40, 33), Is.EqualTo(DeviceSvdMethod.Gesvd));
        CheckDevice(runtime, 40, 33, batch: 2);
        CheckDevice(runtime, 33, 40, batch: 2);
    }

    [Test]
    public void Emulated_BothMethods_AgreeOnASmallMatrix()
    {
        using var runtime = new EmulatedCudaRuntime();
        var w = SvdChecks.RandomMatrix(new Random(7), 12 * 20);
        foreach (var method in new[] { DeviceSvdMethod.BatchedJacobi, DeviceSvdMethod.Gesvd })
        {
            using var job = new DeviceSvdJob(runtime, w, 1, 12, 20, method);
            job.Run();
            var svd = job.Download()[0];
            SvdChecks.AssertValid(svd, w, $"{method} 12x20");
        }
    }

    [Test]
    public void BatchedSvd_RefusesMatricesLargerThan32()
    {
        using var runtime = new EmulatedCudaRuntime();
        var e = Assert.Throws<QuantNativeException>(() =>
            runtime.SgesvdBatched(33, 4, 1, default, default, default, default))!;
        Assert.That(e.Message, Does.Contain("33x4").And.Contain("32"));
        e = Assert.Throws<QuantNativeException>(() =>
            new DeviceSvdJob(runtime, new float[40 * 2], 1, 40, 2, DeviceSvdMethod.BatchedJacobi))!;
        Assert.That(e.Message, Does.Contain("32"));
    }

    [Test]
    public void Driver_DeviceSvd_IsValid_WhereADeviceExists()
    {
        var runtime = GpuDevice.OpenOrIgnore();
        using (runtime)
        {
            foreach (var (rows, cols) in Shapes) CheckDevice(runtime, rows, cols, batch: 1);
            CheckDevice(runtime, 32, 32, batch: 5);
            CheckDevice(runtime, 40, 33, batch: 2);
        }
    }

    private static void CheckDevice(ICudaRuntime runtime, int rows, int cols, int batch)
    {
        var w = SvdChecks.RandomMatrix(new Random(rows * 7919 + cols * 31 + batch), batch * rows * cols);
        var results = DeviceSvd.Thin(runtime, w, batch, rows, cols);
        Assert.That(results, Has.Length.EqualTo(batch));
        string method = DeviceSvd.Choose(rows, cols).ToString();
        for (int j = 0; j < batch; j++)
        {
            var wj = w.AsSpan(j * rows * cols, rows * cols);
            string what = $"{runtime.DeviceName} {method} {rows}x{cols} matrix {j}/{batch}";
            SvdChecks.AssertValid(results[j], wj, what);
            var cpu = QuantNative.Cpu.Svd.Thin(wj.ToArray(), rows, cols);
            double ds = SvdChecks.SingularValueDifference(cpu.S, results[j].S);
            TestContext.Out.WriteLine($"{what}: |S_device − S_cpu| / S_max {ds:E2}");
            Assert.That(ds, Is.LessThanOrEqualTo(Tolerances.SvdSingularValuesRel), $"{what}: S against the CPU");
        }
    }
}
