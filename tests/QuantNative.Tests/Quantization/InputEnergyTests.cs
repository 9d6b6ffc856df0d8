using NUnit.Framework;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Sequential;

namespace QuantNative.Tests.Quantization;

/// <summary>
/// The importance a GGUF K-quant fit weights each column by: Σx² per input column of every linear over the
/// calibration windows, in the quantized model (X_q through the committed blocks). GPTQ keeps its Hessian's
/// diagonal; a learned run that keeps its W' computes it with one forward of each committed block on its training
/// backend. Both are checked against the inference forward (<see cref="SequentialActivations"/>) of the committed
/// blocks on the embedded windows, computed here.
/// </summary>
public class InputEnergyTests
{
    [Test]
    public void GptqKeepsItsHessiansDiagonal() =>
        AssertEnergyOfTheCommittedModel(SequentialQuantizer.Run(StoriesSplit.Open(), StoriesSplit.Windows(),
            new GptqLayerQuantizer(new GptqOptions()), new QuantizerConfig(4, 32), GptqCheckpointFormat.V2));

    [Test]
    public void ALearnedRunKeepingWPrimeMeasuresItOnItsBackend()
    {
        using var source = StoriesSplit.Open();
        var result = LearnedQuantizer.Run(source, StoriesSplit.Windows(), new QuantizerConfig(3, 32), GptqCheckpointFormat.V2,
            new LearnedOptions { Epochs = 1, KeepLearnedWeights = true });
        AssertEnergyOfTheCommittedModel(result);
    }

    [Test]
    public void ALearnedRunWithoutGgufKeepsNone()
    {
        using var source = StoriesSplit.Open();
        var result = LearnedQuantizer.Run(source, StoriesSplit.Windows(), new QuantizerConfig(3, 32), GptqCheckpointFormat.V2,
            new LearnedOptions { Epochs = 0 });
        Assert.That(result.Model.Blocks.Select(b => b.Importance), Is.All.Null);
    }

    private static void AssertEnergyOfTheCommittedModel(QuantizationResult result)
    {
        using var source = StoriesSplit.Open();
        var c = source.Config;
        var acts = new SequentialActivations(c, source.LoadTokenEmbedding(), StoriesSplit.Windows());
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            var block = result.Model.Blocks[layer];
            var committed = block.Dequantize();
            Assert.That(block.Importance, Is.Not.Null, $"block {layer} keeps its importance");
            foreach (var group in BlockLinears.ByInput())
            {
                var expected = new HessianAccumulator(group.First().Shape(c).Columns);
                acts.Capture(layer, group.Key, committed, expected, null);
                var reference = expected.ColumnEnergy();
                foreach (var linear in group)
                {
                    var actual = block.Importance![linear.Part];
                    double num = 0, den = 0;
                    for (int j = 0; j < reference.Length; j++)
                    {
                        num += (actual[j] - (double)reference[j]) * (actual[j] - (double)reference[j]);
                        den += (double)reference[j] * reference[j];
                    }
                    double rel = Math.Sqrt(num / den);
                    TestContext.Out.WriteLine($"block {layer} {linear.Part}: relative difference {rel:E2}");
                    Assert.That(rel, Is.LessThanOrEqualTo(Tolerances.InputEnergyRel), $"block {layer} {linear.Part}");
                }
            }
            acts.Advance(committed);
        }
    }
}
