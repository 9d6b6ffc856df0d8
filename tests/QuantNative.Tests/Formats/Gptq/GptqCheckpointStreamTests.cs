using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Pipeline;
using QuantNative.Quantization.Sequential;
using QuantNative.Tests.Inference;
using QuantNative.Tests.Quantization;

namespace QuantNative.Tests.Formats.Gptq;

/// <summary>
/// A quantization run that streams each finished block into its output (what `qn quantize` does) writes the same bytes
/// as writing the whole quantized model at the end, holds no block in its result, and leaves nothing behind when it
/// stops part-way.
/// </summary>
public class GptqCheckpointStreamTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private static IEnumerable<TestCaseData> Sources()
    {
        yield return new TestCaseData(TestPaths.Stories260K, "gptq", GptqCheckpointFormat.V1, 4, 32).SetName("stories260K gptq W4 g32 v1");
        yield return new TestCaseData(TestPaths.Stories260K, "rtn", GptqCheckpointFormat.V2, 3, -1).SetName("stories260K rtn W3 v2");
        // Biases (qwen2) and q/k norms (qwen3) are block tensors the stream writes beside the linears.
        yield return new TestCaseData(SyntheticFamilies.Dir("qwen2"), "rtn", GptqCheckpointFormat.V2, 4, 32).SetName("qwen2 rtn W4 g32");
        yield return new TestCaseData(SyntheticFamilies.Dir("qwen3"), "gptq", GptqCheckpointFormat.V1, 2, 32).SetName("qwen3 gptq W2 g32");
    }

    [TestCaseSource(nameof(Sources))]
    public void StreamingWritesTheBytesTheWholeModelWrites(string model, string method, GptqCheckpointFormat format,
        int bits, int group)
    {
        var quantizer = new QuantizerConfig(bits, group);
        string held = Path.Combine(_dir, "held"), streamed = Path.Combine(_dir, "streamed");
        using var source = ModelLoader.Open(model);
        int[][]? windows = method == "rtn" ? null : SyntheticWindows(source);

        var whole = Run(source, windows, method, quantizer, format, sink: null);
        GptqCheckpointWriter.Write(whole.Model, held);

        QuantizationResult result;
        using (var stream = GptqCheckpointStream.Begin(source.Config, quantizer, format, BlockPipeline.SourceDTypes(source), streamed))
        {
            result = Run(source, windows, method, quantizer, format, stream);
            Assert.That(Directory.Exists(streamed), Is.False, "nothing appears under the output name before the end");
            stream.Finish(result.Model, null);
        }

        Assert.That(result.Model.BlocksStreamed && result.Model.Blocks.Length == 0, "the streamed result holds no block");
        Assert.Throws<InvalidOperationException>(() => result.Model.HeldBlocks());
        Assert.That(result.Layers.Select(l => l.RelativeError), Is.EqualTo(whole.Layers.Select(l => l.RelativeError)));
        var files = Directory.GetFiles(held).Select(Path.GetFileName).Order().ToList();
        Assert.That(Directory.GetFiles(streamed).Select(Path.GetFileName).Order(), Is.EqualTo(files));
        foreach (var file in files)
            Assert.That(File.ReadAllBytes(Path.Combine(streamed, file!)), Is.EqualTo(File.ReadAllBytes(Path.Combine(held, file!))), file);
    }

    [Test]
    public void ARunStoppedPartWayLeavesNoOutputAndNoTemporaryDirectory()
    {
        using var source = StoriesSplit.Open();
        var quantizer = new QuantizerConfig(4, 32);
        string outDir = Path.Combine(_dir, "q");
        using var cancel = new CancellationTokenSource();
        using (var stream = GptqCheckpointStream.Begin(source.Config, quantizer, GptqCheckpointFormat.V2,
                   BlockPipeline.SourceDTypes(source), outDir))
        {
            Assert.That(Directory.GetFileSystemEntries(_dir), Has.Length.EqualTo(1), "the hidden directory being written");
            // The progress callback cancels once the first block's linears are committed (and streamed).
            Assert.Throws<OperationCanceledException>(() => BlockPipeline.Run(source, null,
                new SequentialLearner(new RtnLayerQuantizer()), quantizer, GptqCheckpointFormat.V2,
                (done, _, _) => { if (done >= BlockLinears.All.Length) cancel.Cancel(); }, cancel.Token, stream));
        }
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty, "disposing the unfinished stream removed everything");
    }

    [Test]
    public void AnExistingOutputIsRefusedBeforeAnyWorkUnlessReplaced()
    {
        using var source = StoriesSplit.Open();
        var quantizer = new QuantizerConfig(4, 32);
        string outDir = Path.Combine(_dir, "q");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "keep"), "old");
        var dtypes = BlockPipeline.SourceDTypes(source);
        var e = Assert.Throws<QuantNativeException>(() =>
            GptqCheckpointStream.Begin(source.Config, quantizer, GptqCheckpointFormat.V2, dtypes, outDir));
        Assert.That(e!.Message, Does.Contain(outDir).And.Contain("already exists"));

        using (var stream = GptqCheckpointStream.Begin(source.Config, quantizer, GptqCheckpointFormat.V2, dtypes, outDir, overwrite: true))
        {
            var result = BlockPipeline.Run(source, null, new SequentialLearner(new RtnLayerQuantizer()), quantizer,
                GptqCheckpointFormat.V2, sink: stream);
            Assert.That(File.Exists(Path.Combine(outDir, "keep")), "the old output stays until the new one is complete");
            stream.Finish(result.Model, null);
        }
        Assert.That(File.Exists(Path.Combine(outDir, "keep")), Is.False);
        Assert.That(File.Exists(Path.Combine(outDir, "model.safetensors")));
    }

    /// <summary>A sequential RTN or GPTQ run of the source, its blocks handed to the sink when one is given.</summary>
    internal static QuantizationResult Run(IModelSource source, int[][]? windows, string method, QuantizerConfig quantizer,
        GptqCheckpointFormat format, IQuantizedBlockSink? sink)
    {
        ILayerQuantizer layer = method == "rtn" ? new RtnLayerQuantizer() : new GptqLayerQuantizer(new GptqOptions());
        return BlockPipeline.Run(source, windows, new SequentialLearner(layer), quantizer, format, sink: sink);
    }

    /// <summary>Two short windows of token ids 1.. (any ids the model has serve a Hessian).</summary>
    internal static int[][] SyntheticWindows(IModelSource source)
    {
        int length = Math.Min(32, source.Config.MaxPositionEmbeddings);
        return [.. Enumerable.Range(0, 2).Select(w => Enumerable.Range(0, length).Select(i => 1 + (i * 7 + w * 13) % (source.Config.VocabSize - 1)).ToArray())];
    }
}
