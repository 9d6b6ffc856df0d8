using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Tests.Training;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// Each op's hand-written backward against central finite differences of its own forward, in double precision,
/// through the scalar loss L = Σ c ⊙ output with random c (so dOutput = c). Outputs start as NaN.
/// </summary>
public class OpGradientTests
{
    [TestCase(1, 8)] [TestCase(3, 24)] [TestCase(17, 8)] [TestCase(17, 24)]
    public void RmsNorm(int rows, int dim)
    {
        var random = new Random(rows * 100 + dim);
        var x = Uniform(random, rows * dim); var gamma = Uniform(random, dim, 0.5, 1.5);
        var c = Uniform(random, rows * dim);
        const double eps = 1e-5;
        var y = Poisoned<double>(rows * dim); var inv = Poisoned<double>(rows);
        double Loss() { QuantNative.Cpu.RmsNorm.Forward(y, inv, x, gamma, rows, dim, eps); return GradientCheck.Dot(c, y, y.Length); }
        Loss();
        var dx = Poisoned<double>(rows * dim); var dGamma = Poisoned<double>(dim);
        QuantNative.Cpu.RmsNorm.Backward(dx, dGamma, c, x, inv, gamma, rows, dim);
        GradientCheck.Assert(dx, x, Loss, "dx");
        GradientCheck.Assert(dGamma, gamma, Loss, "dγ");
    }

    [TestCase(1, 17, 24)] [TestCase(3, 8, 24)] [TestCase(17, 24, 17)]
    public void Linear(int rows, int outDim, int inDim)
    {
        var random = new Random(rows + 7 * outDim + 31 * inDim);
        var x = Uniform(random, rows * inDim); var w = Uniform(random, outDim * inDim); var c = Uniform(random, rows * outDim);
        var y = Poisoned<double>(rows * outDim);
        double Loss() { QuantNative.Cpu.Linear.Forward(y, x, w, rows, outDim, inDim); return GradientCheck.Dot(c, y, y.Length); }
        var dx = Poisoned<double>(rows * inDim); var dW = Poisoned<double>(outDim * inDim);
        QuantNative.Cpu.Linear.Backward(dx, dW, c, x, w, rows, outDim, inDim);
        GradientCheck.Assert(dx, x, Loss, "dx");
        GradientCheck.Assert(dW, w, Loss, "dW");
    }

    [TestCase(1, 3, 8, 0)] [TestCase(17, 3, 8, 0)] [TestCase(3, 1, 24, 5)]
    public void Rope(int rows, int heads, int headDim, int firstPosition)
    {
        var random = new Random(rows * heads + headDim);
        var rope = new QuantNative.Cpu.Rope(headDim, 64, 10000);
        var x = Uniform(random, rows * heads * headDim); var c = Uniform(random, x.Length);
        var y = new double[x.Length];
        double Loss()
        {
            x.CopyTo(y, 0);
            rope.Forward(y, rows, heads, firstPosition);
            return GradientCheck.Dot(c, y, y.Length);
        }
        var dx = (double[])c.Clone();
        rope.Backward(dx, rows, heads, firstPosition);
        GradientCheck.Assert(dx, x, Loss, "dx");
    }

    public static IEnumerable<TestCaseData> AttentionShapes()
    {
        // tokens, heads, kvHeads, headDim, sample (elements checked per tensor; null = all), window (0: plain causal)
        yield return new TestCaseData(1, 2, 2, 8, null, 0).SetName("Attention T=1, group 1 (dQ = dK = 0)");
        yield return new TestCaseData(3, 3, 1, 8, null, 0).SetName("Attention T=3, group 3");
        yield return new TestCaseData(17, 3, 1, 8, null, 0).SetName("Attention T=17, group 3");
        yield return new TestCaseData(17, 2, 2, 12, null, 0).SetName("Attention T=17, group 1, headDim 12");
        yield return new TestCaseData(300, 2, 1, 4, 60, 0).SetName("Attention T=300 crosses the query tile, group 2, sampled");
        yield return new TestCaseData(17, 2, 2, 8, null, 1).SetName("Attention T=17, window 1 (dQ = dK = 0)");
        yield return new TestCaseData(17, 3, 1, 8, null, 4).SetName("Attention T=17, window 4, group 3");
        yield return new TestCaseData(300, 2, 1, 4, 60, 37)
            .SetName("Attention T=300, window 37: the second query tile starts its keys inside the first, sampled");
    }

    [TestCaseSource(nameof(AttentionShapes))]
    public void Attention(int tokens, int heads, int kvHeads, int headDim, int? sample, int window)
    {
        var random = new Random(tokens * 13 + heads * 5 + kvHeads + 7 * window);
        int qw = heads * headDim, kvw = kvHeads * headDim;
        // Scores of a few units, so the softmax is neither uniform nor one-hot.
        var q = Uniform(random, tokens * qw, -2, 2); var k = Uniform(random, tokens * kvw, -2, 2);
        var v = Uniform(random, tokens * kvw); var c = Uniform(random, tokens * qw);
        var o = Poisoned<double>(tokens * qw); var lse = Poisoned<double>(heads * tokens);
        double Loss()
        {
            CausalAttention.Forward(o, lse, q, k, v, tokens, 0, heads, kvHeads, headDim, window);
            return GradientCheck.Dot(c, o, o.Length);
        }
        Loss();
        var dQ = Poisoned<double>(q.Length); var dK = Poisoned<double>(k.Length); var dV = Poisoned<double>(v.Length);
        CausalAttention.Backward(dQ, dK, dV, c, q, k, v, lse, tokens, heads, kvHeads, headDim, window);
        if (tokens == 1 || window == 1)
            // One key per query: P = 1 whatever the scores, so the output does not depend on q or k at all.
            Assert.That(dQ.Concat(dK), Is.All.EqualTo(0.0), "dQ, dK with one key per query");
        else
        {
            GradientCheck.Assert(dQ, q, Loss, "dQ", sample);
            GradientCheck.Assert(dK, k, Loss, "dK", sample);
        }
        GradientCheck.Assert(dV, v, Loss, "dV", sample);
    }

    [TestCase(17)] [TestCase(51)] [TestCase(5000)]
    public void SwiGlu(int count)
    {
        var random = new Random(count);
        // Gates out to ±8, where σ saturates and silu's derivative crosses 1.
        var a = Uniform(random, count, -8, 8); var b = Uniform(random, count); var c = Uniform(random, count);
        var h = Poisoned<double>(count);
        double Loss() { QuantNative.Cpu.SwiGlu.Forward(h, a, b, count); return GradientCheck.Dot(c, h, count); }
        var da = Poisoned<double>(count); var db = Poisoned<double>(count);
        QuantNative.Cpu.SwiGlu.Backward(da, db, c, a, b, count);
        GradientCheck.Assert(da, a, Loss, "da", sample: 500);
        GradientCheck.Assert(db, b, Loss, "db", sample: 500);
    }

    [Test]
    public void Mse()
    {
        var random = new Random(3);
        int n = 17 * 8;
        var y = Uniform(random, n); var target = Uniform(random, n);
        double Loss() => MseLoss.Forward(y, target, n);
        var dy = Poisoned<double>(n);
        MseLoss.Backward(dy, 1.0, y, target, n);
        GradientCheck.Assert(dy, y, Loss, "dy");
        // The definition itself, not only its derivative.
        Assert.That(Loss(), Is.EqualTo(y.Zip(target, (p, t) => (p - t) * (p - t)).Sum() / n).Within(1e-15));
    }

    /// <summary>
    /// The accumulate flags add to what is there (a tensor feeding several ops, a second loss, several windows)
    /// instead of overwriting it: accumulated = prefilled + fresh, element for element.
    /// </summary>
    [Test]
    public void AccumulateFlagsAddToTheOutput()
    {
        var random = new Random(21);
        int rows = 3, dim = 8, outDim = 5;
        var x = Uniform(random, rows * dim); var gamma = Uniform(random, dim, 0.5, 1.5); var dy = Uniform(random, rows * dim);
        var inv = new double[rows];
        QuantNative.Cpu.RmsNorm.Forward(new double[rows * dim], inv, x, gamma, rows, dim, 1e-5);
        var w = Uniform(random, outDim * dim); var dyLinear = Uniform(random, rows * outDim);

        void Check(string what, int[] sizes, Action<double[][], bool> run)
        {
            var fresh = sizes.Select(n => new double[n]).ToArray();
            run(fresh, false);
            var accumulated = sizes.Select(n => Uniform(random, n)).ToArray();
            var expected = accumulated.Zip(fresh, (a, f) => a.Zip(f, (p, q) => p + q).ToArray()).ToArray();
            run(accumulated, true);
            for (int k = 0; k < sizes.Length; k++)
                // Values are O(1), so the relative bound serves as an absolute one.
                Assert.That(accumulated[k], Is.EqualTo(expected[k]).Within(Tolerances.Float64ReorderedSumRel), $"{what}, output {k}");
        }
        Check("RMSNorm dx, dγ", [rows * dim, dim], (o, acc) =>
            QuantNative.Cpu.RmsNorm.Backward(o[0], o[1], dy, x, inv, gamma, rows, dim, accumulateInput: acc, accumulateParameters: acc));
        Check("Linear dx, dW", [rows * dim, outDim * dim], (o, acc) =>
            QuantNative.Cpu.Linear.Backward(o[0], o[1], dyLinear, x, w, rows, outDim, dim, accumulateInput: acc, accumulateParameters: acc));
        Check("MSE dy", [rows * dim], (o, acc) => MseLoss.Backward(o[0], 0.7, x, dy, rows * dim, acc));
    }

    /// <summary>The check is sharp enough to matter: one gradient element wrong by 1e-4 of the norm fails it.</summary>
    [Test]
    public void GradientCheckRejectsASmallError()
    {
        var random = new Random(11);
        int rows = 3, dim = 8;
        var x = Uniform(random, rows * dim); var gamma = Uniform(random, dim, 0.5, 1.5); var c = Uniform(random, rows * dim);
        var y = new double[rows * dim]; var inv = new double[rows];
        double Loss() { QuantNative.Cpu.RmsNorm.Forward(y, inv, x, gamma, rows, dim, 1e-5); return GradientCheck.Dot(c, y, y.Length); }
        Loss();
        var dx = new double[rows * dim];
        QuantNative.Cpu.RmsNorm.Backward(dx, null, c, x, inv, gamma, rows, dim);
        double norm = Math.Sqrt(dx.Sum(v => v * v));
        double good = GradientCheck.RelativeError(dx, x, Loss, null, out _, out _);
        dx[5] += 1e-4 * norm;
        double bad = GradientCheck.RelativeError(dx, x, Loss, null, out _, out _);
        Assert.That(good, Is.LessThan(Tolerances.GradientVsFiniteDifferenceRel));
        Assert.That(bad, Is.GreaterThan(Tolerances.GradientVsFiniteDifferenceRel * 10));
    }
}
