using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Sequential;

namespace QuantNative.Tests.Quantization;

/// <summary>The model-level pipeline on stories260K: calibrated on the first half of TinyStories, evaluated on the second.</summary>
public class SequentialQuantizerTests
{
    /// <summary>
    /// The input the pipeline captured for block 1 is what the quantized block 0 produces: embeddings of the window, the
    /// dequantized block 0, then block 1's attention norm, computed here by the inference forward. And within block 0,
    /// o's input already passes through the quantized q/k/v.
    /// </summary>
    [Test]
    public void EachLayerIsCalibratedThroughTheQuantizedEarlierLayers()
    {
        // The pipeline runs one window per core with one BLAS thread; so does this check, for the same summation order.
        using var oneThread = Gemm.UseBlasThreads(1);
        var captured = new Dictionary<(int, BlockStage), float[]>();
        var q = StoriesSplit.Quantize("gptq", 3, 32, GptqCheckpointFormat.V2, observer: (layer, stage, window, input) =>
        {
            if (window == 0) captured[(layer, stage)] = input.ToArray();
        });
        var model = q.Model.ToLlamaModel();
        var c = model.Config;
        int[] window = StoriesSplit.Windows()[0];
        int t = window.Length, d = c.HiddenSize;
        var rope = new Rope(c.HeadDim, t, c.RopeTheta);
        var ws = new BlockWorkspace(c, t);
        var keys = new float[t * c.KvDim];
        var values = new float[t * c.KvDim];

        float[] Embed()
        {
            var x = new float[t * d];
            for (int i = 0; i < t; i++) model.TokenEmbedding.AsSpan(window[i] * d, d).CopyTo(x.AsSpan(i * d));
            return x;
        }

        // o's input in block 0: attention through the quantized q/k/v.
        var x0 = Embed();
        BlockForward.RunStages(BlockStage.Attention, x0, model.Blocks[0], c, rope, keys, values, 0, t, ws);
        Assert.That(captured[(0, BlockStage.Attention)], Is.EqualTo(ws.Attention.AsSpan(0, t * d).ToArray()));

        // Block 1's q/k/v input: the whole quantized block 0, then block 1's norm.
        var x1 = Embed();
        BlockForward.Forward(x1, model.Blocks[0], c, rope, keys, values, 0, t, ws);
        var expected = new float[t * d];
        RmsNorm.Forward(expected, x1, model.Blocks[1].AttnNorm, t, d, c.RmsNormEps);
        Assert.That(captured[(1, BlockStage.AttentionNorm)], Is.EqualTo(expected));

        // ...and not what the fp32 block 0 produces.
        using var source = StoriesSplit.Open();
        var fp = source.LoadBlock(0);
        var xf = Embed();
        BlockForward.Forward(xf, fp, c, rope, keys, values, 0, t, ws);
        var fpNormed = new float[t * d];
        RmsNorm.Forward(fpNormed, xf, model.Blocks[1].AttnNorm, t, d, c.RmsNormEps);
        Assert.That(captured[(1, BlockStage.AttentionNorm)], Is.Not.EqualTo(fpNormed));
    }

    /// <summary>
    /// A measured property, not a number: on this split GPTQ's perplexity at W3 is at most RTN's, per-channel and g32.
    /// </summary>
    [TestCase(-1)]
    [TestCase(32)]
    public void GptqIsNoWorseThanRtnAtThreeBits(int group)
    {
        double rtn = StoriesSplit.Evaluate(StoriesSplit.Quantize("rtn", 3, group, GptqCheckpointFormat.V2).Model.ToLlamaModel()).Ppl;
        double gptq = StoriesSplit.Evaluate(StoriesSplit.Quantize("gptq", 3, group, GptqCheckpointFormat.V2).Model.ToLlamaModel()).Ppl;
        TestContext.Out.WriteLine($"W3 group {group}: RTN {rtn:F3}, GPTQ {gptq:F3}");
        Assert.That(gptq, Is.LessThanOrEqualTo(rtn));
    }

    [Test]
    public void RtnNeedsNoCalibrationAndReportsEveryLayer()
    {
        var q = StoriesSplit.Quantize("rtn", 4, 32, GptqCheckpointFormat.V1);
        Assert.That(q.Layers, Has.Count.EqualTo(5 * 7));
        Assert.That(q.Layers.Select(l => l.RelativeError), Is.All.InRange(1e-4, 0.2));
        Assert.That(q.Layers.Where(l => l.Name.EndsWith("down_proj")).Select(l => l.GroupNote),
            Is.All.Contains("does not divide 172"), "the ragged last group of down_proj is reported");
        Assert.That(q.Layers.Where(l => !l.Name.EndsWith("down_proj")).Select(l => l.GroupNote), Is.All.Null);
    }

    [Test]
    public void GptqWithoutCalibrationIsRefused()
    {
        using var source = StoriesSplit.Open();
        var e = Assert.Throws<QuantNativeException>(() => SequentialQuantizer.Run(source, null,
            new GptqLayerQuantizer(new GptqOptions()), new QuantizerConfig(4), GptqCheckpointFormat.V2));
        Assert.That(e!.Message, Does.Contain("--calib"));
    }
}
