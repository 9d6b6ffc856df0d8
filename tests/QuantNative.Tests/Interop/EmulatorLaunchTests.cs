using NUnit.Framework;
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
            (32, 1, 1), 0, null))!;
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
        var e = Assert.Throws<EmulatorException>(() =>
            Emulator.Launch("qn_vector_add_forward_f32", (1, 1, 1), (32, 1, 1), 0, null))!;
        Assert.That(e.Message, Does.Contain("kernelParams is NULL"));
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
