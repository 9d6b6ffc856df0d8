using System.Numerics;
using NUnit.Framework;

namespace QuantNative.Tests.Training;

/// <summary>
/// AdamW against torch.optim.AdamW's documented algorithm, computed here step by step in double:
///   θ ← θ − γλθ;  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  m̂ = m/(1 − β1ᵗ);  v̂ = v/(1 − β2ᵗ);
///   θ ← θ − γ·m̂/(√v̂ + ε)
/// with t the parameter's own step count. Two groups with their own learning rate and weight decay; one parameter
/// has no gradient at step 2 (skipped, its count does not advance).
/// </summary>
public class AdamWTests
{
    private const int Steps = 3;
    private static readonly int[] Sizes = [5, 3, 40_000]; // the last spans several parallel chunks
    private static readonly (double Lr, double Wd)[] GroupSettings = [(1e-2, 0.1), (2e-4, 0)];

    private sealed record Expected(double[][] Values, double[][] M, double[][] V, long[] StepCounts);

    /// <summary>Initial values and the gradients of each step (null: no gradient), reproducible.</summary>
    private static (double[][] Init, double[]?[][] Grads) Data()
    {
        var random = new Random(42);
        var init = Sizes.Select(n => TestTensors.UniformFloat(random, n)).ToArray();
        var grads = new double[Steps][][];
        for (int s = 0; s < Steps; s++)
            grads[s] = Sizes.Select((n, i) => s == 1 && i == 1 ? null : TestTensors.UniformFloat(random, n, -1e-2, 1e-2)).ToArray()!;
        return (init, grads);
    }

    private static int GroupOf(int parameter) => parameter < 2 ? 0 : 1; // p0, p1 in group 0; p2 in group 1

    private static Expected HandComputed()
    {
        var (init, grads) = Data();
        double b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var p = init.Select(a => (double[])a.Clone()).ToArray();
        var m = Sizes.Select(n => new double[n]).ToArray();
        var v = Sizes.Select(n => new double[n]).ToArray();
        var t = new long[Sizes.Length];
        for (int s = 0; s < Steps; s++)
            for (int i = 0; i < Sizes.Length; i++)
            {
                if (grads[s][i] is not { } g) continue;
                var (lr, wd) = GroupSettings[GroupOf(i)];
                t[i]++;
                for (int j = 0; j < Sizes[i]; j++)
                {
                    p[i][j] -= lr * wd * p[i][j];
                    m[i][j] = b1 * m[i][j] + (1 - b1) * g[j];
                    v[i][j] = b2 * v[i][j] + (1 - b2) * g[j] * g[j];
                    double mHat = m[i][j] / (1 - Math.Pow(b1, t[i])), vHat = v[i][j] / (1 - Math.Pow(b2, t[i]));
                    p[i][j] -= lr * mHat / (Math.Sqrt(vHat) + eps);
                }
            }
        return new Expected(p, m, v, t);
    }

    private static (AdamW<T> Optimizer, GradParameter<T>[] Parameters) Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (init, grads) = Data();
        var parameters = init.Select((a, i) => new GradParameter<T>($"p{i}", a.Select(T.CreateTruncating).ToArray())).ToArray();
        var groups = GroupSettings.Select((g, k) => new AdamWGroup<T>
        {
            Parameters = parameters.Where((_, i) => GroupOf(i) == k).ToArray(), LearningRate = g.Lr, WeightDecay = g.Wd,
        });
        var optimizer = new AdamW<T>(groups);
        for (int s = 0; s < Steps; s++)
        {
            for (int i = 0; i < parameters.Length; i++)
                parameters[i].Grad = grads[s][i]?.Select(T.CreateTruncating).ToArray();
            optimizer.Step();
        }
        return (optimizer, parameters);
    }

    private static void Report<T>(GradParameter<T>[] parameters, Expected expected) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < parameters.Length; i++)
            TestContext.Out.WriteLine($"p{i}: max |actual − expected| = " +
                $"{parameters[i].Value.Zip(expected.Values[i], (a, b) => Math.Abs(double.CreateTruncating(a) - b)).Max():G3}");
    }

    [Test]
    public void DoubleMatchesHandComputedSteps()
    {
        var expected = HandComputed();
        var (optimizer, parameters) = Run<double>();
        Report(parameters, expected);
        for (int i = 0; i < parameters.Length; i++)
        {
            var state = optimizer.StateOf(parameters[i])!.Value;
            Assert.That(state.Step, Is.EqualTo(expected.StepCounts[i]), $"p{i} step count");
            Assert.That(parameters[i].Value, Is.EqualTo(expected.Values[i]).Within(Tolerances.AdamWFloat64VsFormulaAbs), $"p{i}");
            Assert.That(state.ExpAvg, Is.EqualTo(expected.M[i]).Within(Tolerances.AdamWFloat64VsFormulaAbs), $"p{i} m");
            Assert.That(state.ExpAvgSq, Is.EqualTo(expected.V[i]).Within(Tolerances.AdamWFloat64VsFormulaAbs), $"p{i} v");
        }
        Assert.That(expected.StepCounts, Is.EqualTo(new long[] { 3, 2, 3 }), "p1 skipped step 2");
    }

    [Test]
    public void FloatMatchesHandComputedSteps()
    {
        var expected = HandComputed();
        var (_, parameters) = Run<float>();
        Report(parameters, expected);
        for (int i = 0; i < parameters.Length; i++)
            TensorAssert.Close(parameters[i].Value, expected.Values[i], Tolerances.AdamWFloat32VsFormulaAbs, $"p{i}");
    }

    /// <summary>The hand computation differs from plain Adam with an L2 term and from no bias correction, so the
    /// comparison above can tell them apart.</summary>
    [Test]
    public void FirstStepMovesEachWeightByAboutTheLearningRate()
    {
        var p = new GradParameter<double>("p", [1.0, -2.0]) { Grad = [1e-3, -5.0] };
        var optimizer = new AdamW<double>([new AdamWGroup<double> { Parameters = [p], LearningRate = 0.1, WeightDecay = 0.5 }]);
        optimizer.Step();
        // Step 1: m̂ = g, v̂ = g², so θ = θ(1 − γλ) − γ·g/(|g| + ε).
        Assert.That(p.Value[0], Is.EqualTo(1.0 * (1 - 0.05) - 0.1 * 1e-3 / (1e-3 + 1e-8)).Within(1e-15));
        Assert.That(p.Value[1], Is.EqualTo(-2.0 * (1 - 0.05) + 0.1 * 5.0 / (5.0 + 1e-8)).Within(1e-15));
    }

    [Test]
    public void BadSettingsAreRefused()
    {
        var p = new GradParameter<float>("p", new float[3]);
        Assert.That(() => new AdamWGroup<float> { Parameters = [p], LearningRate = -1e-3 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdamW<float>([new AdamWGroup<float> { Parameters = [p], Beta1 = 1.0 }]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdamW<float>([new AdamWGroup<float> { Parameters = [p], Beta2 = -0.1 }]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdamW<float>([new AdamWGroup<float> { Parameters = [p], WeightDecay = -1 }]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new AdamW<float>([new AdamWGroup<float> { Parameters = [p] }, new AdamWGroup<float> { Parameters = [p] }]),
            Throws.ArgumentException.With.Message.Contains("more than one group"));
        var optimizer = new AdamW<float>([new AdamWGroup<float> { Parameters = [p] }]);
        p.Grad = new float[2];
        Assert.That(optimizer.Step, Throws.ArgumentException.With.Message.Contains("gradient of 2"));
    }
}
