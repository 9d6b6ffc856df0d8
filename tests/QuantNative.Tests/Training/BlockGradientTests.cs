using NUnit.Framework;
using QuantNative.Training;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Training;

/// <summary>
/// The whole block's backward (dx, the seven dW, both dγ) against central finite differences of its forward, in
/// double, through Σ c ⊙ y with random c and through the MSE against a random target.
/// </summary>
public class BlockGradientTests
{
    public static IEnumerable<TestCaseData> Shapes()
    {
        // hidden, intermediate, heads, kvHeads, tokens, architecture (TrainingBlockFixture)
        yield return new TestCaseData(24, 17, 3, 1, 17, "llama").SetName("hidden 24, GQA 3:1, intermediate 17, T=17");
        yield return new TestCaseData(24, 17, 3, 3, 3, "llama").SetName("hidden 24, group 1, intermediate 17, T=3");
        yield return new TestCaseData(8, 17, 2, 1, 17, "llama").SetName("hidden 8, GQA 2:1, intermediate 17, T=17");
        yield return new TestCaseData(8, 24, 1, 1, 1, "llama").SetName("hidden 8, one head, intermediate 24, T=1");
        yield return new TestCaseData(24, 17, 3, 1, 17, "qwen2").SetName("qwen2: q/k/v biases, GQA 3:1, T=17");
        yield return new TestCaseData(24, 17, 3, 1, 17, "qwen3").SetName("qwen3: head dim 10, q/k norms, 4 biases, T=17");
        yield return new TestCaseData(24, 17, 3, 1, 17, "mistral").SetName("mistral: sliding window 4, T=17");
        yield return new TestCaseData(24, 17, 3, 1, 17, "llama3").SetName("llama3: RoPE scaling, three bands, T=17");
    }

    [TestCaseSource(nameof(Shapes))]
    public void WeightedSumLoss(int hidden, int intermediate, int heads, int kvHeads, int tokens, string architecture)
    {
        var f = new TrainingBlockFixture(hidden, intermediate, heads, kvHeads, tokens, seed: hidden * 7 + tokens, architecture);
        var c = Uniform(new Random(tokens), f.OutputLength);
        Check(f, y => GradientCheck.Dot(c, y, y.Length), y => (double[])c.Clone());
    }

    [TestCaseSource(nameof(Shapes))]
    public void MseLoss(int hidden, int intermediate, int heads, int kvHeads, int tokens, string architecture)
    {
        var f = new TrainingBlockFixture(hidden, intermediate, heads, kvHeads, tokens, seed: hidden * 11 + tokens, architecture);
        var target = Uniform(new Random(tokens + 1), f.OutputLength);
        long n = f.OutputLength;
        Check(f, y => QuantNative.Cpu.MseLoss.Forward(y, target, n), y =>
        {
            var dy = Poisoned<double>(n);
            QuantNative.Cpu.MseLoss.Backward(dy, 1.0, y, target, n);
            return dy;
        });
    }

    private static void Check(TrainingBlockFixture f, Func<double[], double> loss, Func<double[], double[]> dLoss)
    {
        var c = f.Config;
        var w = BlockTensors<double>.From(f.Weights);
        var x = ToDouble(f.Input);
        var saved = new BlockActivations<double>(c, f.Tokens);
        double Loss() => loss(f.Forward(w, x, saved));

        var y = f.Forward(w, x, saved);
        var dy = dLoss(y);
        var dx = Poisoned<double>(x.Length);
        var dW = Poisoned(c);
        TrainingBlock.Backward(dx, dW, dy, saved, w, c, f.Rope, new BlockGradientWorkspace<double>(c, f.Tokens));

        GradientCheck.Assert(dx, x, Loss, "dx");
        foreach (var ((name, tensor), (_, gradient)) in w.All().Zip(dW.All()))
        {
            if (f.Tokens == 1 && name is "q_proj" or "k_proj")
            {
                // One token attends only to itself with probability 1: queries and keys do not matter.
                Assert.That(gradient, Is.All.EqualTo(0.0), $"d{name} of a single token");
                continue;
            }
            GradientCheck.Assert(gradient, tensor, Loss, "d" + name);
        }
    }

    [Test]
    public void ParameterGradientsAccumulateOverWindowsAndDxMayAliasDy()
    {
        var first = new TrainingBlockFixture(24, 17, 3, 1, 17, seed: 1);
        var second = new TrainingBlockFixture(24, 17, 3, 1, 17, seed: 1); // same weights (same seed), new input
        var x2 = Uniform(new Random(5), second.OutputLength);
        var c = first.Config;
        var w = BlockTensors<double>.From(first.Weights);
        var ws = new BlockGradientWorkspace<double>(c, 17);
        var saved = new BlockActivations<double>(c, 17);
        var dy1 = Uniform(new Random(6), first.OutputLength);
        var dy2 = Uniform(new Random(7), first.OutputLength);

        BlockTensors<double> Gradients(double[] x, double[] dy, out double[] dx)
        {
            first.Forward(w, x, saved);
            var g = Poisoned(c);
            dx = Poisoned<double>(x.Length);
            TrainingBlock.Backward(dx, g, dy, saved, w, c, first.Rope, ws);
            return g;
        }
        var g1 = Gradients(ToDouble(first.Input), dy1, out var dx1);
        var g2 = Gradients(x2, dy2, out _);

        // Both windows into one set of gradients; the second call also writes dx over its own dy.
        var sum = Poisoned(c);
        first.Forward(w, ToDouble(first.Input), saved);
        TrainingBlock.Backward(new double[x2.Length], sum, dy1, saved, w, c, first.Rope, ws);
        first.Forward(w, x2, saved);
        var aliased = (double[])dy2.Clone();
        TrainingBlock.Backward(aliased, sum, aliased, saved, w, c, first.Rope, ws, accumulateParameters: true);

        Gradients(x2, dy2, out var dx2);
        Assert.That(aliased, Is.EqualTo(dx2), "dx written over dy");
        Assert.That(dx1, Has.None.NaN);
        foreach (var (((name, s), (_, a)), (_, b)) in sum.All().Zip(g1.All()).Zip(g2.All()))
        {
            var expected = a.Zip(b, (p, q) => p + q).ToArray();
            double scale = expected.Max(Math.Abs);
            Assert.That(s, Is.EqualTo(expected).Within(Tolerances.Float64ReorderedSumRel * scale), "d" + name);
        }
    }

    private static BlockTensors<double> Poisoned(QuantNative.Model.LlamaConfig c)
    {
        var g = BlockTensors<double>.Zeros(c);
        foreach (var (_, t) in g.All()) Array.Fill(t, double.NaN);
        return g;
    }
}
