using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Interop;

namespace QuantNative.Tests.Interop;

/// <summary>The C ABI of the emulator: the smoke kernel, the kernel registry, launch validation, missing library.</summary>
public class EmulatorLaunchTests : EmulatorTestBase
{
    [TestCase(1, 128)]
    [TestCase(1000, 128)]
    [TestCase(4097, 256)]
    [TestCase(33, 32)]
    public void VectorAdd_MatchesScalarSum(int n, int threads)
    {
        var rng = NewRandom();
        var a = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 200 - 100)).ToArray();
        var b = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 200 - 100)).ToArray();
        var output = NaNs(n + 7); // elements past n must stay untouched
        uint blocks = (uint)((n + threads - 1) / threads);
        Launch1D("qn_vector_add_forward_f32", blocks, (uint)threads, output, a, b, n);
        for (int i = 0; i < n; i++) Assert.That(output[i], Is.EqualTo(a[i] + b[i]), $"element {i}");
        for (int i = n; i < n + 7; i++) Assert.That(output[i], Is.NaN, $"element {i} past n was written");
    }

    [Test]
    public void KernelNames_ListShippedAndSelfTestKernelsSorted()
    {
        var names = Emulator.KernelNames();
        Assert.That(names, Does.Contain("qn_vector_add_forward_f32"));
        Assert.That(names, Does.Contain("qn_selftest_mma"));
        Assert.That(names, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        Assert.That(names, Is.Unique);
    }

    [Test]
    public void KernelParameterSizes_AreTheDeclaredOnes()
    {
        Assert.That(Emulator.KernelParameterSizes("qn_vector_add_forward_f32"), Is.EqualTo(new uint[] { 8, 8, 8, 4 }));
        Assert.That(Emulator.KernelParameterSizes("qn_selftest_parallel_blocks"), Is.EqualTo(new uint[] { 8, 8, 8 }));
    }

    [Test]
    public unsafe void UnknownKernel_ErrorNamesIt()
    {
        var e = Assert.Throws<EmulatorException>(() => Emulator.Launch("qn_no_such_kernel_forward_f32", (1, 1, 1),
            (32, 1, 1), 0, null, 0, null))!;
        Assert.That(e.Status, Is.EqualTo(Emulator.QN_EMU_ERROR_NOT_FOUND));
        Assert.That(e.Message, Does.Contain("qn_no_such_kernel_forward_f32"));
        Assert.That(e.Message, Does.Contain("qn_emu_launch_kernel"));
        var p = Assert.Throws<EmulatorException>(() => Emulator.KernelParameterSizes("qn_missing"))!;
        Assert.That(p.Message, Does.Contain("qn_missing"));
    }

    [TestCase(1025u, 1u, 1u, "1025 threads")]
    [TestCase(32u, 33u, 1u, "1056 threads")]
    [TestCase(1u, 1u, 65u, "block (1,1,65)")]
    [TestCase(0u, 1u, 1u, "every dimension >= 1")]
    public void BadBlock_IsRefusedWithTheLimits(uint x, uint y, uint z, string expected)
    {
        var output = NaNs(4);
        var e = Assert.Throws<EmulatorException>(() =>
            Launch("qn_vector_add_forward_f32", (1, 1, 1), (x, y, z), 0, output, output, output, 4))!;
        Assert.That(e.Status, Is.EqualTo(Emulator.QN_EMU_ERROR_INVALID_VALUE));
        Assert.That(e.Message, Does.Contain(expected));
        Assert.That(e.Message, Does.Contain("qn_vector_add_forward_f32"));
    }

    [Test]
    public void BadGrid_IsRefused()
    {
        var output = NaNs(4);
        var e = Assert.Throws<EmulatorException>(() =>
            Launch("qn_vector_add_forward_f32", (1, 65536, 1), (32, 1, 1), 0, output, output, output, 4))!;
        Assert.That(e.Message, Does.Contain("grid (1,65536,1)"));
    }

    [Test]
    public unsafe void NullParameters_AreRefused()
    {
        var sizes = new uint[] { 8, 8, 8, 4 };
        var e = Assert.Throws<EmulatorException>(() =>
        {
            fixed (uint* p = sizes) Emulator.Launch("qn_vector_add_forward_f32", (1, 1, 1), (32, 1, 1), 0, null, 4, p);
        })!;
        Assert.That(e.Message, Does.Contain("kernelParams is NULL"));
    }

    // Every launch carries the count and byte size of its arguments; the emulator compares them with the kernel's
    // registered parameters (vector_add: out, a, b pointers, then int n) before anything runs.
    [Test]
    public void WrongArgumentCount_IsRefusedNamingKernelAndBothCounts()
    {
        var output = NaNs(4);
        var tooFew = Assert.Throws<EmulatorException>(() =>
            Launch("qn_vector_add_forward_f32", (1, 1, 1), (32, 1, 1), 0, output, output, output))!;
        Assert.That(tooFew.Status, Is.EqualTo(Emulator.QN_EMU_ERROR_INVALID_VALUE));
        Assert.That(tooFew.Message, Does.Contain("launch of 'qn_vector_add_forward_f32': 3 arguments passed, the "
            + "kernel takes 4 parameters of sizes (8, 8, 8, 4)"));
        var tooMany = Assert.Throws<EmulatorException>(() =>
            Launch("qn_vector_add_forward_f32", (1, 1, 1), (32, 1, 1), 0, output, output, output, 4, 4))!;
        Assert.That(tooMany.Message, Does.Contain("'qn_vector_add_forward_f32': 5 arguments passed, the kernel takes 4"));
        Assert.That(output, Is.All.NaN, "a refused launch ran");
    }

    [Test]
    public void WrongArgumentSize_IsRefusedNamingKernelSlotAndSizes()
    {
        var output = NaNs(4);
        var e = Assert.Throws<EmulatorException>(() =>
            Launch("qn_vector_add_forward_f32", (1, 1, 1), (32, 1, 1), 0, output, output, output, 4L))!;
        Assert.That(e.Status, Is.EqualTo(Emulator.QN_EMU_ERROR_INVALID_VALUE));
        Assert.That(e.Message, Does.Contain("launch of 'qn_vector_add_forward_f32': argument 3 is 8 bytes, parameter 3 "
            + "of the kernel is 4 bytes"));
        Assert.That(output, Is.All.NaN, "a refused launch ran");
    }

    // The path of every CudaBackend launch: KernelArguments records each value's size, the emulated runtime passes
    // them on, so arguments added in the wrong order fail the launch naming the first slot that differs.
    [Test]
    public void KernelArgumentsInTheWrongOrder_FailTheEmulatedLaunch()
    {
        using var rt = new EmulatedCudaRuntime();
        var buffer = rt.Allocate(16);
        try
        {
            using var args = new KernelArguments(4).Add(4).Add(buffer).Add(buffer).Add(buffer);
            var e = Assert.Throws<EmulatorException>(() =>
                rt.Launch("qn_vector_add_forward_f32", new Dim3(1), new Dim3(32), 0, args))!;
            Assert.That(e.Message, Does.Contain("'qn_vector_add_forward_f32': argument 0 is 4 bytes, parameter 0 of the "
                + "kernel is 8 bytes"));
            using var good = new KernelArguments(4).Add(buffer).Add(buffer).Add(buffer).Add(4);
            Assert.DoesNotThrow(() => rt.Launch("qn_vector_add_forward_f32", new Dim3(1), new Dim3(32), 0, good));
        }
        finally
        {
            rt.Free(buffer);
        }
    }

    [Test]
    public void DynamicShared_LimitIs48KiBUntilRaisedAndAtMost99KiB()
    {
        const string kernel = "qn_selftest_dynamic_shared";
        var input = new float[64 * 1024];
        var output = NaNs(input.Length);
        Launch(kernel, (1, 1, 1), (128, 1, 1), 48 * 1024, output, input, 12 * 1024);
        var e = Assert.Throws<EmulatorException>(() =>
            Launch(kernel, (1, 1, 1), (128, 1, 1), 48 * 1024 + 16, output, input, 12 * 1024 + 4))!;
        Assert.That(e.Message, Does.Contain("49168 bytes of dynamic shared memory"));
        Assert.That(e.Message, Does.Contain("qn_emu_set_max_dynamic_shared"));
        try
        {
            Emulator.SetMaxDynamicShared(kernel, 64 * 1024);
            Launch(kernel, (1, 1, 1), (128, 1, 1), 64 * 1024, output, input, 16 * 1024);
            var tooMuch = Assert.Throws<EmulatorException>(() => Emulator.SetMaxDynamicShared(kernel, 100 * 1024))!;
            Assert.That(tooMuch.Message, Does.Contain("101376"));
        }
        finally
        {
            Emulator.SetMaxDynamicShared(kernel, 48 * 1024);
        }
    }

    [Test]
    public void Options_RejectUnknownNames()
    {
        var e = Assert.Throws<EmulatorException>(() => Emulator.SetOption("warp_size", 64))!;
        Assert.That(e.Message, Does.Contain("warp_size"));
        Emulator.SetOption("host_threads", 3);
        Assert.That(Emulator.GetOption("host_threads"), Is.EqualTo(3));
    }

    [Test]
    public void MissingLibrary_ThrowsAClearError()
    {
        string empty = TestPaths.NewTempDir();
        try
        {
            var e = Assert.Throws<QuantNativeException>(() =>
                NativeLibraries.LoadProjectLibrary(NativeLibraries.Emulator, [empty]))!;
            Assert.That(e.Message, Does.Contain("libqn_emulator.so"));
            Assert.That(e.Message, Does.Contain(empty));
            Assert.That(e.Message, Does.Contain("cmake --build build"));
        }
        finally
        {
            Directory.Delete(empty, true);
        }
    }
}
