using NUnit.Framework;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Learned.Cqe;

namespace QuantNative.Tests.Quantization.Learned.Cqe;

/// <summary>
/// CQE+ in OmniQuant's loop on stories260K (<see cref="StoriesSplit"/>'s 8 windows of 128 tokens, a few epochs): the
/// reductions to OmniQuant that must hold bit for bit, the clipping parameters a run leaves, and the checks made
/// before any work.
/// </summary>
public class CqeLoopTests
{
    private static QuantizationResult Run(int bits, int group, int epochs, CqeOptions? cqe)
    {
        using var source = StoriesSplit.Open();
        return LearnedQuantizer.Run(source, StoriesSplit.Windows(), new QuantizerConfig(bits, group), GptqCheckpointFormat.V2,
            new LearnedOptions { Epochs = epochs, Cqe = cqe });
    }

    private static void AssertSameWeights(QuantizationResult a, QuantizationResult b)
    {
        for (int layer = 0; layer < a.Model.Blocks.Length; layer++)
            foreach (var linear in BlockLinears.All)
            {
                var (x, y) = (a.Model.Blocks[layer].Linears[linear.Part], b.Model.Blocks[layer].Linears[linear.Part]);
                string at = $"block {layer} {linear.Part}";
                Assert.That(x.Codes, Is.EqualTo(y.Codes), at + " codes");
                Assert.That(x.Scales.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(y.Scales.Select(BitConverter.SingleToInt32Bits)), at + " scales");
                Assert.That(x.Zeros, Is.EqualTo(y.Zeros), at + " zeros");
            }
    }

    /// <summary>λ = 0: the look-ahead runs (forward and backward through the next block) but adds exact zeros, so
    /// every step, loss and committed weight equals plain OmniQuant's.</summary>
    [TestCase(3, 32)]
    [TestCase(2, -1)]
    public void CrossLayerWithZeroWeightIsOmniQuant(int bits, int group)
    {
        var omni = Run(bits, group, 2, null);
        var cll = Run(bits, group, 2, new CqeOptions { LookAheadDepth = 1, LookAheadWeight = 0 });
        AssertSameWeights(omni, cll);
        Assert.That(cll.Learned!.Blocks.Select(b => (b.Initial, b.Final, b.FirstEpoch, b.LastEpoch)),
            Is.EqualTo(omni.Learned!.Blocks.Select(b => (b.Initial, b.Final, b.FirstEpoch, b.LastEpoch))));
        Assert.That(cll.Model.Method, Is.EqualTo("cqe+"));
    }

    /// <summary>With E = 0 and no training, W' = W bit for bit, so SDE's result is OmniQuant's 0-epoch result (RTN
    /// with γ = β = σ(4)).</summary>
    [TestCase("band:2")]
    [TestCase("block:8+diag")]
    public void SdeWithoutTrainingIsOmniQuantWithoutTraining(string mask)
    {
        AssertSameWeights(Run(3, 32, 0, null), Run(3, 32, 0, new CqeOptions { Sde = SdeMask.Parse(mask) }));
    }

    /// <summary>SDE training moves the committed weights away from OmniQuant's (E is trained and reaches the commit)
    /// and lowers each block's loss; its factors and parameters count in the peak memory.</summary>
    [Test]
    public void SdeTrainsAndLowersTheBlockLoss()
    {
        var omni = Run(3, 32, 3, null);
        var sde = Run(3, 32, 3, new CqeOptions { Sde = SdeMask.Parse("band:1"), SdeLearningRate = 1e-3 });
        Assert.That(sde.Model.Blocks[0].Linears["self_attn.q_proj"].Codes, Is.Not.EqualTo(omni.Model.Blocks[0].Linears["self_attn.q_proj"].Codes));
        foreach (var b in sde.Learned!.Blocks)
            Assert.That(b.Final, Is.LessThan(b.Initial), $"block {b.Block}");
        Assert.That(sde.Learned.PeakBytes, Is.GreaterThan(omni.Learned!.PeakBytes), "SVD factors, E and W' are counted");
    }

    [Test]
    public void ClippingParametersOfEveryLinearAreKept()
    {
        var q = Run(4, 32, 1, null);
        Assert.That(q.Clipping!.Count, Is.EqualTo(q.Model.Config.NumLayers * BlockLinears.All.Length));
        var (u, _) = q.Clipping.Get("model.layers.4.mlp.down_proj", 64 * 6, "test");
        Assert.That(u.Any(v => v != 4f), "trained parameters, not the initial 4.0");
    }

    [Test]
    public void BlockLargerThanALayersRankIsRefusedBeforeAnyWork()
    {
        var e = Assert.Throws<QuantNativeException>(() => Run(4, 32, 1, new CqeOptions { Sde = SdeMask.Parse("block:33") }))!;
        Assert.That(e.Message, Does.Contain("block:33").And.Contain("rank 32"));
    }

    [TestCase(-1, 1.0, "--cll -1")]
    [TestCase(1, -0.5, "--cll-weight -0.5")]
    [TestCase(1, double.NaN, "--cll-weight NaN")]
    public void BadCrossLayerOptions(int depth, double lambda, string message)
    {
        var e = Assert.Throws<QuantNativeException>(() => Run(4, 32, 1, new CqeOptions { LookAheadDepth = depth, LookAheadWeight = lambda }))!;
        Assert.That(e.Message, Does.Contain(message));
    }
}
