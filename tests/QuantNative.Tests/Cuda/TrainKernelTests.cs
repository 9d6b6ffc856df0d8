using NUnit.Framework;
using QuantNative.Model;
using QuantNative.Cpu;
using QuantNative.Cuda;
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
        var r = new Random(rows * 100 + outDim);
        using var p = new BackendPair();
        var x = p.Random(r, rows * inDim);
        var w = p.Random(r, outDim * inDim);
        var dy = p.Random(r, rows * outDim);
        // Accumulating outputs start from values, the others from NaN.
        var y = accumulate ? p.Random(r, rows * outDim) : p.Poisoned(rows * outDim);
        var dx = accumulate ? p.Random(r, rows * inDim) : p.Poisoned(rows * inDim);
        var dW = accumulate ? p.Random(r, outDim * inDim) : p.Poisoned(outDim * inDim);
        p.Run((b, o) =>
        {
            b.LinearForward(o(y), o(x), o(w), rows, outDim, inDim, accumulate);
            b.LinearBackward(o(dx), o(dW), o(dy), o(x), o(w), rows, outDim, inDim, accumulate, accumulate);
        });
        AssertClose(y, Tol, "y");
        AssertClose(dx, Tol, "dx");
        AssertClose(dW, Tol, "dW");
    }

    [TestCase(1, 1, false)]
    [TestCase(3, 17, true)]
    [TestCase(17, 3, false)]
    [TestCase(5, 300, true)]
    public void RmsNorm(int rows, int dim, bool accumulate)
    {
        var r = new Random(rows * 1000 + dim);
        using var p = new BackendPair();
        var x = p.Random(r, rows * dim);
        var gamma = p.Random(r, dim, 0.5, 1.5);
        var dy = p.Random(r, rows * dim);
        var (y, inv) = (p.Poisoned(rows * dim), p.Poisoned(rows));
        var dx = accumulate ? p.Random(r, rows * dim) : p.Poisoned(rows * dim);
        var dGamma = accumulate ? p.Random(r, dim) : p.Poisoned(dim);
        p.Run((b, o) =>
        {
            b.RmsNormForward(o(y), o(inv), o(x), o(gamma), rows, dim, 1e-5);
            b.RmsNormBackward(o(dx), o(dGamma), o(dy), o(x), o(inv), o(gamma), rows, dim, accumulate, accumulate);
        });
        AssertClose(y, Tol, "y");
        AssertClose(inv, Tol, "inverseRms");
        AssertClose(dx, Tol, "dx");
        AssertClose(dGamma, Tol, "dγ");
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
        var r = new Random(rows + heads);
        using var p = new BackendPair();
        var x = p.Random(r, rows * heads * headDim);
        var dx = p.Random(r, rows * heads * headDim);
        // Llama 3.1's bands at a tiny original context, so that all three bands occur at head dim 16.
        var rope = new RopeParameters(500000, type == RopeType.Default ? RopeScaling.None : new RopeScaling(type, 8, 1, 4, 16));
        p.Run((b, o) =>
        {
            b.RopeForward(o(x), rows, heads, headDim, rope);
            b.RopeBackward(o(dx), rows, heads, headDim, rope);
        });
        AssertEqual(x, "rope(x)");
        AssertEqual(dx, "rope backward");
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
        var r = new Random(tokens * 10 + heads + 1000 * window);
        using var p = new BackendPair();
        int qn = tokens * heads * headDim, kvn = tokens * kvHeads * headDim;
        var q = p.Random(r, qn, -2, 2); // larger scores: the softmax is far from uniform
        var k = p.Random(r, kvn, -2, 2);
        var v = p.Random(r, kvn);
        var dO = p.Random(r, qn);
        var (o, lse) = (p.Poisoned(qn), p.Poisoned(heads * tokens));
        var (dQ, dK, dV) = (p.Poisoned(qn), p.Poisoned(kvn), p.Poisoned(kvn));
        p.Run((b, t) =>
        {
            b.AttentionForward(t(o), t(lse), t(q), t(k), t(v), tokens, heads, kvHeads, headDim, window);
            b.AttentionBackward(t(dQ), t(dK), t(dV), t(dO), t(q), t(k), t(v), t(lse), tokens, heads, kvHeads, headDim,
                window);
        });
        AssertClose(o, Tol, "output");
        AssertClose(lse, Tol, "logSumExp");
        AssertClose(dV, Tol, "dV");
        if (tokens == 1 || window == 1)
        {
            // One key per query: P ≡ 1, so the output ignores q and k and dQ = dK = 0 exactly, as the CPU computes.
            // The key/value kernel recomputes the scores and dP in another summation order than the forward and the
            // dQ kernel, so its P is 1 ± a few ulps and dP − D a few ulps of dP: float rounding of terms the size of
            // dV's (dV = dO here), which is what a zero result is measured against.
            AssertRoundingOfZero(dQ, dV, Tol, "dQ");
            AssertRoundingOfZero(dK, dV, Tol, "dK");
        }
        else
        {
            AssertClose(dQ, Tol, "dQ");
            AssertClose(dK, Tol, "dK");
        }
    }

    [TestCase(1)] [TestCase(3)] [TestCase(17)] [TestCase(1000)]
    public void SwiGlu(int count)
    {
        var r = new Random(count);
        using var p = new BackendPair();
        var (a, bb, dh) = (p.Random(r, count, -4, 4), p.Random(r, count), p.Random(r, count));
        var (h, da, db) = (p.Poisoned(count), p.Poisoned(count), p.Poisoned(count));
        p.Run((b, o) =>
        {
            b.SwiGluForward(o(h), o(a), o(bb), count);
            b.SwiGluBackward(o(da), o(db), o(dh), o(a), o(bb), count);
        });
        AssertClose(h, Tol, "h");
        AssertClose(da, Tol, "da");
        AssertClose(db, Tol, "db");
    }

    [TestCase(1, false)] [TestCase(17, true)] [TestCase(70000, false)]
    public void Mse(int count, bool accumulate)
    {
        var r = new Random(count);
        using var p = new BackendPair();
        var (y, t) = (p.Random(r, count), p.Random(r, count));
        var dy = accumulate ? p.Random(r, count) : p.Poisoned(count);
        var losses = new List<double>();
        p.Run((b, o) =>
        {
            losses.Add(b.MseForward(o(y), o(t), count));
            b.MseBackward(o(dy), 0.75, o(y), o(t), count, accumulate);
        });
        TestContext.Out.WriteLine($"loss cpu {losses[0]:R} cuda {losses[1]:R}");
        Assert.That(Math.Abs(losses[1] - losses[0]), Is.LessThanOrEqualTo(Tolerances.MseLossReorderedRel * losses[0]));
        AssertEqual(dy, "dy");
    }

    [TestCase(17)] [TestCase(1000)]
    public void AdamW_ThreeSteps_IsBitExact(int count)
    {
        var r = new Random(count);
        using var p = new BackendPair();
        var value = p.Random(r, count);
        var (m, v) = (p.Of(new float[count]), p.Of(new float[count]));
        for (int step = 1; step <= 3; step++)
        {
            var grad = p.Random(r, count);
            var s = AdamWStepScalars.Create(1e-2, step == 2 ? 0.1 : 0, 0.9, 0.999, 1e-8, step);
            p.Run((b, o) => b.AdamWStep(o(value), o(m), o(v), o(grad), count, s));
        }
        AssertEqual(value, "value");
        AssertEqual(m, "expAvg");
        AssertEqual(v, "expAvgSq");
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
