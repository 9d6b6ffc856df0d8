using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Tests.Inference;
using QuantNative.Training;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Training;

/// <summary>The training forward is the same block as inference's and as the float64 straight-line definition.</summary>
public class BlockForwardTests
{
    public static IEnumerable<TestCaseData> Shapes() => BlockGradientTests.Shapes().Append(
        new TestCaseData(32, 40, 4, 2, 300, "llama").SetName("hidden 32, GQA 2:1, intermediate 40, T=300 (two query tiles)"));

    [TestCaseSource(nameof(Shapes))]
    public void DoubleForwardMatchesStraightLineDefinition(int hidden, int intermediate, int heads, int kvHeads, int tokens, string architecture)
    {
        var f = new TrainingBlockFixture(hidden, intermediate, heads, kvHeads, tokens, seed: 3 + tokens, architecture);
        var y = f.Forward(BlockTensors<double>.From(f.Weights), ToDouble(f.Input), new BlockActivations<double>(f.Config, tokens));
        var expected = new double[tokens, hidden];
        for (int i = 0; i < tokens; i++) for (int j = 0; j < hidden; j++) expected[i, j] = f.Input[i * hidden + j];
        DoubleForward.Block(expected, f.Weights, f.Config);
        double diff2 = 0, norm2 = 0;
        for (int i = 0; i < tokens; i++)
            for (int j = 0; j < hidden; j++)
            {
                double e = expected[i, j], d = y[i * hidden + j] - e;
                diff2 += d * d; norm2 += e * e;
            }
        double rel = Math.Sqrt(diff2 / norm2);
        TestContext.Out.WriteLine($"‖y − y_ref‖/‖y_ref‖ = {rel:G3}");
        Assert.That(rel, Is.LessThan(Tolerances.Float64BlockVsStraightLineRel));
    }

    /// <summary>
    /// Inference (in place on the residual stream, over a KV cache) and training (saving activations) call the same
    /// ops with the same shapes in the same order, so the float outputs are identical, not merely close.
    /// </summary>
    [TestCaseSource(nameof(Shapes))]
    public void FloatForwardEqualsInferenceBlockForward(int hidden, int intermediate, int heads, int kvHeads, int tokens, string architecture)
    {
        var f = new TrainingBlockFixture(hidden, intermediate, heads, kvHeads, tokens, seed: 5 + tokens, architecture);
        var c = f.Config;
        var y = f.Forward(BlockTensors<float>.From(f.Weights), f.Input, new BlockActivations<float>(c, tokens));
        var x = (float[])f.Input.Clone();
        BlockForward.Forward(x, f.Weights, c, f.Rope, new float[tokens * c.KvDim], new float[tokens * c.KvDim], 0, tokens,
            new BlockWorkspace(c, tokens));
        Assert.That(y, Is.EqualTo(x));
    }
}
