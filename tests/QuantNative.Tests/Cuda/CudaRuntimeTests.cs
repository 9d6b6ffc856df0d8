using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Interop;
using QuantNative.Verification;

namespace QuantNative.Tests.Cuda;

/// <summary>
/// The two ICudaRuntime implementations: the emulator's memory, GEMM and SVD; the driver's behaviour on a machine
/// without a GPU (one clear error, no crash); module and kernel lookup errors; and, where a driver exists, that the
/// quant fatbin loads and has its kernels (ignored here with the reason).
/// </summary>
public unsafe class CudaRuntimeTests
{
    [Test]
    public void Driver_WithoutDevice_SaysSoClearly()
    {
        DriverCudaRuntime runtime;
        try
        {
            runtime = DriverCudaRuntime.Create();
        }
        catch (NoCudaDeviceException e)
        {
            TestContext.Out.WriteLine(e.Message);
            Assert.That(e.Message, Does.StartWith("no CUDA device: "));
            Assert.That(e.Message, Does.Contain("--device cpu or --device emulate"));
            Assert.That(e.Message, Does.Not.Contain("\n"));
            return;
        }
        runtime.Dispose();
        Assert.Ignore("this machine has a CUDA device: the no-device path is not reachable here");
    }

    [Test]
    public void Driver_WithoutDriverLibrary_SaysSoClearly()
    {
        var e = Assert.Throws<NoCudaDeviceException>(() => DriverCudaRuntime.Create(0, () => false))!;
        Assert.That(e.Message, Does.Contain("libcuda.so.1"));
        Assert.That(e.Message, Does.StartWith("no CUDA device: "));
    }

    [Test]
    public void Fatbin_LoadsItsKernelNames_WhereADriverExists()
    {
        var runtime = GpuDevice.OpenOrIgnore();
        using (runtime)
        {
            runtime.LoadModule(LwcLaunch.Family);
            Assert.That(runtime.Function(LwcLaunch.ForwardKernel), Is.Not.EqualTo(IntPtr.Zero));
            Assert.That(runtime.Function(LwcLaunch.BackwardKernel), Is.Not.EqualTo(IntPtr.Zero));
            var e = Assert.Throws<QuantNativeException>(() => runtime.Function("qn_no_such_forward_f32"))!;
            Assert.That(e.Message, Does.Contain("qn_no_such_forward_f32"));
            Assert.That(e.Message, Does.Contain("quant.fatbin"));
        }
    }

    [Test]
    public void MissingFatbin_NamesFamilyAndFiles()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            var e = Assert.Throws<QuantNativeException>(() => FatbinLocator.Find("quant", [dir]))!;
            Assert.That(e.Message, Does.Contain(Path.Combine(dir, "quant.fatbin")));
            Assert.That(e.Message, Does.Contain("'quant'"));
            File.WriteAllBytes(Path.Combine(dir, "quant.fatbin"), [1, 2, 3]);
            Assert.That(FatbinLocator.Find("quant", [dir]), Is.EqualTo(Path.Combine(dir, "quant.fatbin")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Emulator_UnknownKernel_NamesIt()
    {
        using var rt = new EmulatedCudaRuntime();
        using var args = new KernelArguments(1).Add(0);
        var e = Assert.Throws<EmulatorException>(() =>
            rt.Launch("qn_fakequant_nope_forward_f32", new Dim3(1), new Dim3(32), 0, args))!;
        Assert.That(e.Message, Does.Contain("qn_fakequant_nope_forward_f32"));
    }

    [Test]
    public void Emulator_MemoryCopiesAndMemset()
    {
        using var rt = new EmulatedCudaRuntime();
        var a = rt.Allocate(1000);
        var b = rt.Allocate(1000);
        Assert.That(a.Address % 256, Is.Zero);
        var src = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        var dst = new byte[1000];
        fixed (byte* s = src) rt.CopyHostToDevice(a, s, 1000);
        rt.CopyDeviceToDevice(b, a, 1000);
        rt.Memset(b.Offset(10), 0xab, 5);
        fixed (byte* d = dst) rt.CopyDeviceToHost(d, b, 1000);
        for (int i = 0; i < 1000; i++) Assert.That(dst[i], Is.EqualTo(i is >= 10 and < 15 ? 0xab : src[i]), $"byte {i}");
        rt.Free(a);
        var e = Assert.Throws<QuantNativeException>(() => rt.Free(a))!;
        Assert.That(e.Message, Does.Contain("freed twice"));
        rt.Free(b);
    }

    [Test]
    public void Emulator_Sgemm_IsColumnMajorBlas()
    {
        using var rt = new EmulatedCudaRuntime();
        const int m = 5, n = 3, k = 4;
        var rng = TestRandom.New();
        float[] A = Rand(rng, m * k), B = Rand(rng, k * n), C = new float[m * n];
        var (pa, pb, pc) = (Upload(rt, A), Upload(rt, B), Upload(rt, C));
        rt.Sgemm(false, false, m, n, k, 1f, pa, m, pb, k, 0f, pc, m);
        Download(rt, pc, C);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++) s += A[i + p * m] * B[p + j * k];
            Assert.That(C[i + j * m], Is.EqualTo(s).Within(1e-5), $"C[{i},{j}]");
        }
    }

    [Test]
    public void Emulator_Sgesvd_ReconstructsTheMatrix()
    {
        using var rt = new EmulatedCudaRuntime();
        const int m = 7, n = 4;
        var A = Rand(TestRandom.New(), m * n);
        var pa = Upload(rt, (float[])A.Clone());
        var (ps, pu, pvt) = (rt.Allocate(n * 4), rt.Allocate(m * n * 4), rt.Allocate(n * n * 4));
        rt.Sgesvd(m, n, pa, ps, pu, pvt);
        float[] S = new float[n], U = new float[m * n], VT = new float[n * n];
        Download(rt, ps, S);
        Download(rt, pu, U);
        Download(rt, pvt, VT);
        Assert.That(S, Is.Ordered.Descending);
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < n; p++) s += U[i + p * m] * S[p] * VT[p + j * n];
            Assert.That(s, Is.EqualTo(A[i + j * m]).Within(1e-5), $"A[{i},{j}]");
        }
        var e = Assert.Throws<QuantNativeException>(() => rt.Sgesvd(3, 4, pa, ps, pu, pvt))!;
        Assert.That(e.Message, Does.Contain("3x4"));
    }

    private static float[] Rand(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static DevicePtr Upload(ICudaRuntime rt, float[] a)
    {
        var p = rt.Allocate(a.Length * 4L);
        fixed (float* s = a) rt.CopyHostToDevice(p, s, a.Length * 4L);
        return p;
    }

    private static void Download(ICudaRuntime rt, DevicePtr p, float[] a)
    {
        fixed (float* d = a) rt.CopyDeviceToHost(d, p, a.Length * 4L);
    }
}
