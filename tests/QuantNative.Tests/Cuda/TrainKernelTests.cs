using NUnit.Framework;
using QuantNative.Model;
using QuantNative.Cpu;
using QuantNative.Cuda;
using QuantNative.Verification;
using static QuantNative.Tests.Cuda.BackendPair;

namespace QuantNative.Tests.Cuda;

/// <summary>
/// Each block op of the CUDA backend (kernels/train/ on the emulator, GEMMs through the runtime's Sgemm) against the
/// CPU backend on random inputs of awkward sizes, outputs poisoned before the run.
/// </summary>
public class TrainKernelTests
{
    private const double Tol = Tolerances.CudaVsCpuOpRel;

    [TestCase(1, 3, 17, false)]
    [TestCase(5, 17, 3, true)]
    [TestCase(17, 8, 16, false)]
    public void Linear(int rows, int outDim, int inDim, bool accumulate)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.Linear(p, new Random(rows * 100 + outDim), rows, outDim, inDim, accumulate));
    }

    [TestCase(1, 1, false)]
    [TestCase(3, 17, true)]
    [TestCase(17, 3, false)]
    [TestCase(5, 300, true)]
    public void RmsNorm(int rows, int dim, bool accumulate)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.RmsNorm(p, new Random(rows * 1000 + dim), rows, dim, accumulate));
    }

    [Test]
    public void RmsNormBackward_MayOverwriteItsUpstreamGradient()
    {
        var r = new Random(7);
        using var p = new BackendPair();
        int rows = 5, dim = 17;
        var x = p.Random(r, rows * dim);
        var gamma = p.Random(r, dim, 0.5, 1.5);
        var inv = p.Poisoned(rows);
        var y = p.Poisoned(rows * dim);
        var dyDx = p.Random(r, rows * dim);
        var dGamma = p.Poisoned(dim);
        p.Run((b, o) =>
        {
            b.RmsNormForward(o(y), o(inv), o(x), o(gamma), rows, dim, 1e-5);
            b.RmsNormBackward(o(dyDx), o(dGamma), o(dyDx), o(x), o(inv), o(gamma), rows, dim);
        });
        AssertClose(dyDx, Tol, "dx over dy");
        AssertClose(dGamma, Tol, "dγ");
    }

    [TestCase(1, 1, 2, RopeType.Default)]
    [TestCase(5, 4, 8, RopeType.Default)]
    [TestCase(17, 2, 8, RopeType.Default)]
    [TestCase(17, 2, 16, RopeType.Linear)]
    [TestCase(33, 2, 16, RopeType.Llama3)]
    public void Rope_IsBitExact(int rows, int heads, int headDim, RopeType type)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.Rope(p, new Random(rows + heads), rows, heads, headDim, type));
    }

    // window 0: plain causal; 1: each query sees itself only; 3: a window shorter than T (GQA 4/2 and 3/1, heads
    // sharing a kv head sum their dK/dV over the window); 9 and 40: a window longer than T, which is plain causal.
    [TestCase(1, 4, 2, 8, 0)]
    [TestCase(5, 4, 2, 8, 0)]
    [TestCase(17, 4, 2, 8, 0)]
    [TestCase(17, 3, 3, 3, 0)]
    [TestCase(5, 2, 1, 17, 0)]
    [TestCase(1, 4, 2, 8, 1)]
    [TestCase(17, 4, 2, 8, 1)]
    [TestCase(17, 4, 2, 8, 3)]
    [TestCase(17, 3, 1, 8, 3)]
    [TestCase(5, 4, 2, 8, 9)]
    [TestCase(17, 2, 1, 17, 40)]
    public void Attention(int tokens, int heads, int kvHeads, int headDim, int window)
    {
        // One key per query (tokens 1 or window 1): dQ = dK = 0 exactly on the CPU, and the device's float noise is
        // measured against dV (TrainingOpCases.Attention says why).
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.Attention(p, new Random(tokens * 10 + heads + 1000 * window), tokens, heads, kvHeads,
            headDim, window));
    }

    [TestCase(1)] [TestCase(3)] [TestCase(17)] [TestCase(1000)]
    public void SwiGlu(int count)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.SwiGlu(p, new Random(count), count));
    }

    [TestCase(1, false)] [TestCase(17, true)] [TestCase(70000, false)]
    public void Mse(int count, bool accumulate)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.Mse(p, new Random(count), count, accumulate));
    }

    [TestCase(17)] [TestCase(1000)]
    public void AdamW_ThreeSteps_IsBitExact(int count)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.AdamW(p, new Random(count), count));
    }

    [Test]
    public void CudaBackend_RefusesDouble_NamingTheOp()
    {
        using var p = new BackendPair();
        using var x = p.Cuda.Allocate<double>(8);
        var e = Assert.Throws<QuantNativeException>(() => p.Cuda.SwiGluForward(x, x, x, 8))!;
        Assert.That(e.Message, Does.Contain("qn_swiglu_forward_f32").And.Contain("float32 only").And.Contain("Double"));
    }

    [Test]
    public void ShortBuffer_IsRefusedBeforeWork_NamingOpShapeAndTensor()
    {
        using var p = new BackendPair();
        foreach (var b in new[] { p.Cpu, p.Cuda })
        {
            using var q = b.Allocate<float>(5 * 4 * 8);
            using var kv = b.Allocate<float>(5 * 2 * 8 - 1);
            using var lse = b.Allocate<float>(4 * 5);
            var e = Assert.Throws<QuantNativeException>(() => b.AttentionForward(q, lse, q, kv, kv, 5, 4, 2, 8))!;
            Assert.That(e.Message, Does.Contain("attention forward").And.Contain("tokens 5").And
                .Contain("k has 79 elements, needs 80"));
            var g = Assert.Throws<QuantNativeException>(() => b.AttentionForward(q, lse, q, q, q, 5, 3, 2, 8))!;
            Assert.That(g.Message, Does.Contain("multiple of kv heads"));
            var w = Assert.Throws<QuantNativeException>(() =>
                b.AttentionBackward(q, q, q, q, q, q, q, lse, 5, 4, 4, 8, window: -1))!;
            Assert.That(w.Message, Does.Contain("attention backward").And.Contain("window = -1").And
                .Contain("expected >= 0"));
        }
    }

    [Test]
    public void Fatbin_HasEveryTrainKernel_WhereADriverExists()
    {
        var runtime = GpuDevice.OpenOrIgnore();
        using (runtime)
        {
            runtime.LoadModule(TrainLaunch.Family);
            foreach (var name in new[]
                     {
                         TrainLaunch.RmsNormForward, TrainLaunch.RmsNormBackward, TrainLaunch.RmsNormGammaBackward,
                         TrainLaunch.RopeForward, TrainLaunch.RopeBackward, TrainLaunch.AttentionForward,
                         TrainLaunch.AttentionBackward, TrainLaunch.AttentionKvBackward, TrainLaunch.SwiGluForward,
                         TrainLaunch.SwiGluBackward, TrainLaunch.MseForward, TrainLaunch.MseBackward,
                         TrainLaunch.AdamWStep, TrainLaunch.Add, TrainLaunch.AddBias,
                     })
                Assert.That(runtime.Function(name), Is.Not.EqualTo(IntPtr.Zero), name);
        }
    }
}
