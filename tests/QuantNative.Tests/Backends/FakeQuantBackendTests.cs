using NUnit.Framework;
using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Cuda;
using QuantNative.Verification;
using QuantNative.Tests.Cuda;

namespace QuantNative.Tests.Backends;

/// <summary>
/// The fake-quant ops through the backend seam: the CUDA backend on the emulator (the same C# as on a GPU, down to the
/// void** launch) against the CPU backend, and the C# checks at the boundary (shapes, buffers, launch assumptions).
/// </summary>
public class FakeQuantBackendTests
{
    private static LwcOutputs RunOn(IBackend backend, LwcInputs x, ScaleClamp clamp) => LwcComparison.Run(backend, x, clamp);

    [TestCase(172, 300, 100, 3)]
    [TestCase(17, 256, -1, 8)]
    [TestCase(3, 4096, 128, 4)]
    [TestCase(1, 33, 32, 2)]
    public void CudaBackendOnEmulator_EqualsCpuBackend(int rows, int cols, int group, int bits)
    {
        var shape = new LwcShape(rows, cols, group, bits);
        var x = LwcInputs.Create(TestRandom.New(), shape);
        using var cpu = new CpuBackend();
        using var cuda = Backend.Create(DeviceKind.Emulate);
        Assert.That(cuda.Kind, Is.EqualTo(DeviceKind.Emulate));
        var expected = RunOn(cpu, x, ScaleClamp.Default);
        var actual = RunOn(cuda, x, ScaleClamp.Default);
        LwcKernelTests.AssertMatches(x, expected, actual);
    }

    [Test]
    public void WrongBufferLength_NamesTensorAndShape()
    {
        var shape = new LwcShape(4, 100, 32, 4);
        foreach (var backend in new IBackend[] { new CpuBackend(), Backend.Create(DeviceKind.Emulate) })
            using (backend)
            {
                using var w = backend.Allocate<float>(shape.Elements);
                using var shortW = backend.Allocate<float>(shape.Elements - 1);
                using var u = backend.Allocate<float>(shape.GroupCount);
                using var codes = backend.Allocate<byte>(shape.Elements);
                using var saved = LwcSaved.Allocate(backend, shape);
                var e = Assert.Throws<QuantNativeException>(() =>
                    backend.FakeQuantLwcForward(w, codes, saved, shortW, u, u, shape, ScaleClamp.Default))!;
                Assert.That(e.Message, Does.Contain("w has 399 elements, expected 400"), backend.Description);
                Assert.That(e.Message, Does.Contain("[4, 100] W4 g32"));
                using var dW = backend.Allocate<float>(shape.Elements);
                var b = Assert.Throws<QuantNativeException>(() => backend.FakeQuantLwcBackward(dW, u, w, w, w, u, u,
                    saved, shape, ScaleClamp.Default))!;
                Assert.That(b.Message, Does.Contain("dl has 400 elements, expected 16"), backend.Description);
            }
    }

    [Test]
    public void BufferOfAnotherBackend_IsRefused()
    {
        var shape = new LwcShape(1, 64, 32, 4);
        using var cpu = new CpuBackend();
        using var emu = Backend.Create(DeviceKind.Emulate);
        using var w = cpu.Allocate<float>(shape.Elements);
        using var wq = emu.Allocate<float>(shape.Elements);
        using var codes = emu.Allocate<byte>(shape.Elements);
        using var u = emu.Allocate<float>(shape.GroupCount);
        using var saved = LwcSaved.Allocate(emu, shape);
        var e = Assert.Throws<QuantNativeException>(() =>
            emu.FakeQuantLwcForward(wq, codes, saved, w, u, u, shape, ScaleClamp.Default))!;
        Assert.That(e.Message, Does.Contain("w belongs to another backend"));
    }

    [TestCase(48, "a block of 48 threads")]
    [TestCase(0, "a block of 0 threads")]
    [TestCase(2048, "a block of 2048 threads")]
    public void LaunchAssumptions_BlockSize_RefusedWithShape(int threads, string expected)
    {
        var shape = new LwcShape(3, 300, 100, 4);
        var e = Assert.Throws<QuantNativeException>(() => LwcLaunch.Plan(LwcLaunch.ForwardKernel, shape, threads))!;
        Assert.That(e.Message, Does.Contain(expected));
        Assert.That(e.Message, Does.Contain("qn_fakequant_lwc_forward_f32 [3, 300] W4 g100"));
        // Through the backend, before anything is launched.
        using var emu = new CudaBackend(new EmulatedCudaRuntime()) { LwcThreads = threads };
        using var w = emu.Allocate<float>(shape.Elements);
        using var codes = emu.Allocate<byte>(shape.Elements);
        using var u = emu.Allocate<float>(shape.GroupCount);
        using var saved = LwcSaved.Allocate(emu, shape);
        var viaBackend = Assert.Throws<QuantNativeException>(() =>
            emu.FakeQuantLwcForward(w, codes, saved, w, u, u, shape, ScaleClamp.Default))!;
        Assert.That(viaBackend.Message, Does.Contain(expected));
    }

    [Test]
    public void LaunchAssumptions_TooManyBlocks_RefusedWithShape()
    {
        var shape = new LwcShape(70_000, 40_000, 1, 4);
        var e = Assert.Throws<QuantNativeException>(() => LwcLaunch.Plan(LwcLaunch.BackwardKernel, shape))!;
        Assert.That(e.Message, Does.Contain("70000 rows x 40000 groups = 2800000000 blocks"));
        Assert.That(e.Message, Does.Contain("qn_fakequant_lwc_backward_f32"));
    }

    [Test]
    public void DefaultBlock_IsTheGroupRoundedUpTo32_AtMost256()
    {
        Assert.That(LwcLaunch.DefaultThreads(new LwcShape(1, 4096, 32, 4)), Is.EqualTo(32));
        Assert.That(LwcLaunch.DefaultThreads(new LwcShape(1, 4096, 100, 4)), Is.EqualTo(128));
        Assert.That(LwcLaunch.DefaultThreads(new LwcShape(1, 4096, -1, 4)), Is.EqualTo(256));
        Assert.That(LwcLaunch.DefaultThreads(new LwcShape(1, 7, -1, 4)), Is.EqualTo(32));
    }
}
