using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Tests.Training;
using QuantNative.Training;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Quantization.Learned.Cqe;

/// <summary>
/// Cross-layer learning's loss (DESIGN.md §7.7) in double: L = MSE(B_i(x), T_i) + λ·Σ_d MSE(B_{i+d}∘…(B_i(x)), T_{i+d})
/// with two look-ahead blocks; the gradient with respect to the block output, and through block i to its input and
/// weights, against central finite differences.
/// </summary>
public class LookAheadGradientTests
{
    private const int Hidden = 16, Intermediate = 17, Heads = 4, KvHeads = 2, Tokens = 5;

    private sealed class Setup
    {
        public readonly TrainingBlockFixture Trained = new(Hidden, Intermediate, Heads, KvHeads, Tokens, seed: 1);
        public readonly BlockTensors<double> W;
        public readonly LookAheadChain<double> Chain;
        public readonly double[] Target;
        public readonly double[][] AheadTargets;

        public Setup(int depth)
        {
            W = BlockTensors<double>.From(Trained.Weights);
            var ahead = Enumerable.Range(0, depth)
                .Select(d => BlockTensors<double>.From(new TrainingBlockFixture(Hidden, Intermediate, Heads, KvHeads, Tokens, seed: 10 + d).Weights))
                .ToArray();
            Chain = new LookAheadChain<double>(Trained.Config, ahead, Trained.Rope, Tokens);
            var rng = new Random(7);
            Target = Uniform(rng, Trained.OutputLength);
            AheadTargets = Enumerable.Range(0, depth).Select(_ => Uniform(rng, Trained.OutputLength)).ToArray();
        }
    }

    [TestCase(2, 1.0)]
    [TestCase(2, 0.3)]
    [TestCase(1, 2.0)]
    public void GradientWithRespectToTheBlockOutput(int depth, double lambda)
    {
        var s = new Setup(depth);
        var y = Uniform(new Random(3), s.Trained.OutputLength);
        var dy = new double[y.Length];
        double loss = s.Chain.ForwardBackward(y, Tokens, s.AheadTargets, lambda, dy);
        Assert.That(loss, Is.EqualTo(s.Chain.Loss(y, Tokens, s.AheadTargets, lambda)).Within(1e-15));
        GradientCheck.Assert(dy, y, () => s.Chain.Loss(y, Tokens, s.AheadTargets, lambda), $"dY, D = {depth}, λ = {lambda}");
    }

    /// <summary>Through two look-ahead blocks into block i: dx and every linear weight of block i.</summary>
    [Test]
    public void GradientThroughTwoBlocksIntoTheTrainedBlock()
    {
        var s = new Setup(2);
        var c = s.Trained.Config;
        const double lambda = 0.7;
        var x = ToDouble(s.Trained.Input);
        var saved = new BlockActivations<double>(c, Tokens);
        long n = s.Trained.OutputLength;

        double Loss()
        {
            var y = s.Trained.Forward(s.W, x, saved);
            return MseLoss.Forward(y, s.Target, n) + s.Chain.Loss(y, Tokens, s.AheadTargets, lambda);
        }

        var y0 = s.Trained.Forward(s.W, x, saved);
        var dy = new double[n];
        MseLoss.Backward(dy, 1.0, y0, s.Target, n);
        s.Chain.ForwardBackward(y0, Tokens, s.AheadTargets, lambda, dy);
        var dx = Poisoned<double>(x.Length);
        var dW = BlockTensors<double>.Zeros(c);
        TrainingBlock.Backward(dx, dW, dy, saved, s.W, c, s.Trained.Rope, new BlockGradientWorkspace<double>(c, Tokens));

        GradientCheck.Assert(dx, x, Loss, "dx");
        foreach (var ((name, tensor), (_, gradient)) in s.W.Linears().Zip(dW.Linears()))
            GradientCheck.Assert(gradient, tensor, Loss, "d" + name, sample: 40);
    }

    [Test]
    public void ZeroWeightAddsNothing()
    {
        var s = new Setup(2);
        var y = Uniform(new Random(5), s.Trained.OutputLength);
        var dy = Uniform(new Random(6), y.Length);
        var before = (double[])dy.Clone();
        Assert.That(s.Chain.ForwardBackward(y, Tokens, s.AheadTargets, 0, dy), Is.EqualTo(0));
        Assert.That(dy, Is.EqualTo(before));
    }
}
