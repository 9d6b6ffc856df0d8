using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.Gguf;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Pipeline;
using QuantNative.Quantization.Sequential;
using QuantNative.Tests.Formats.Gptq;
using QuantNative.Tests.Inference;

namespace QuantNative.Tests.Formats.Gguf;

/// <summary>
/// `qn quantize --format gguf` streaming its blocks to the GGUF writer (<see cref="GgufBlockStream"/>) writes the bytes
/// the whole model's export writes, holds at most <see cref="GgufBlockStream.MaxPending"/> + 1 blocks at once, and
/// leaves nothing behind when the run stops or the writer fails.
/// </summary>
public class GgufBlockStreamTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private static IEnumerable<TestCaseData> Runs()
    {
        yield return new TestCaseData(TestPaths.Stories260K, "rtn", 4, 32, null).SetName("stories260K rtn W4 g32 auto (Q4_1 from the codes)");
        yield return new TestCaseData(TestPaths.Stories260K, "gptq", 4, 128, GgmlType.Q4_K).SetName("stories260K gptq W4 g128 as Q4_K (weighted fits)");
        yield return new TestCaseData(SyntheticFamilies.Dir("qwen2"), "rtn", 3, 32, GgmlType.Q3_K).SetName("qwen2 rtn W3 g32 as Q3_K (biases)");
    }

    [TestCaseSource(nameof(Runs))]
    public void StreamingWritesTheBytesOfTheWholeModelsExport(string model, string method, int bits, int group, GgmlType? type)
    {
        var quantizer = new QuantizerConfig(bits, group);
        string held = Path.Combine(_dir, "held.gguf"), streamed = Path.Combine(_dir, "streamed.gguf");
        using var source = ModelLoader.Open(model);
        int[][]? windows = method == "rtn" ? null : Windows(source);

        var whole = Run(source, windows, method, quantizer, sink: null);
        var heldReports = GgufExporter.Write(GgufExportSource.FromQuantized(whole.Model), held, type, [], "m", overwrite: false);

        IReadOnlyList<GgufTensorReport> streamedReports;
        int mostHeld;
        QuantizationResult result;
        using (var stream = new GgufBlockStream(source, BlockPipeline.SourceDTypes(source), method, streamed, type, [], "m", overwrite: false))
        {
            result = Run(source, windows, method, quantizer, stream);
            Assert.That(File.Exists(streamed), Is.False, "nothing appears under the output name before the end");
            streamedReports = stream.Finish(result.Model);
            mostHeld = stream.MostHeld;
        }

        Assert.That(result.Model.BlocksStreamed && result.Model.Blocks.Length == 0, "the streamed result holds no block");
        Assert.That(File.ReadAllBytes(streamed), Is.EqualTo(File.ReadAllBytes(held)), "the file's bytes");
        Assert.That(streamedReports.Select(r => (r.Name, r.Type, r.How, r.RelativeDistance)),
            Is.EqualTo(heldReports.Select(r => (r.Name, r.Type, r.How, r.RelativeDistance))), "the reports");
        Assert.That(mostHeld, Is.InRange(1, GgufBlockStream.MaxPending + 1), "blocks held at once");
        Assert.That(Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "held.gguf", "streamed.gguf" }));
    }

    /// <summary>Blocks handed over faster than the writer takes them (all five at once, as a quick RTN run would): the
    /// sink makes the run wait, so no more than MaxPending + 1 are ever held; the file is still the whole export's.</summary>
    [Test]
    public void AQuantizationAheadOfTheWriterWaitsForIt()
    {
        using var source = ModelLoader.Open(TestPaths.Stories260K);
        var whole = Run(source, Windows(source), "gptq", new QuantizerConfig(4, 128), sink: null);
        string held = Path.Combine(_dir, "held.gguf"), streamed = Path.Combine(_dir, "streamed.gguf");
        GgufExporter.Write(GgufExportSource.FromQuantized(whole.Model), held, GgmlType.Q4_K, [], "m", overwrite: false);
        using (var stream = new GgufBlockStream(source, BlockPipeline.SourceDTypes(source), "gptq", streamed, GgmlType.Q4_K, [], "m", overwrite: false))
        {
            var blocks = whole.Model.HeldBlocks();
            Assert.That(blocks, Has.Length.GreaterThan(GgufBlockStream.MaxPending + 1));
            for (int layer = 0; layer < blocks.Length; layer++) stream.Write(layer, blocks[layer]);
            stream.Finish(whole.Model);
            Assert.That(stream.MostHeld, Is.LessThanOrEqualTo(GgufBlockStream.MaxPending + 1), "blocks held at once (all five without the wait)");
        }
        Assert.That(File.ReadAllBytes(streamed), Is.EqualTo(File.ReadAllBytes(held)));
    }

    [Test]
    public void ARunStoppedPartWayLeavesNothing()
    {
        using var source = ModelLoader.Open(TestPaths.Stories260K);
        var quantizer = new QuantizerConfig(4, 32);
        using var cancel = new CancellationTokenSource();
        using (var stream = new GgufBlockStream(source, BlockPipeline.SourceDTypes(source), "rtn", Path.Combine(_dir, "q.gguf"), null, [], "q", overwrite: false))
        {
            Assert.Throws<OperationCanceledException>(() => BlockPipeline.Run(source, null,
                new SequentialLearner(new RtnLayerQuantizer()), quantizer, GptqCheckpointFormat.V2,
                (done, _, _) => { if (done >= 2 * BlockLinears.All.Length) cancel.Cancel(); }, cancel.Token, stream));
        }
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty, "disposing the unfinished stream removed its temporary file");
    }

    [Test]
    public void TheWritersFailureStopsTheRunWithItsMessage()
    {
        using var source = ModelLoader.Open(TestPaths.Stories260K);
        string target = Path.Combine(_dir, "taken.gguf");
        Directory.CreateDirectory(target); // a directory where the file should go: the writer refuses it
        var e = Assert.Throws<QuantNativeException>(() =>
        {
            using var stream = new GgufBlockStream(source, BlockPipeline.SourceDTypes(source), "rtn", target, null, [], "q", overwrite: true);
            var result = Run(source, null, "rtn", new QuantizerConfig(4, 32), stream);
            stream.Finish(result.Model);
        });
        Assert.That(e!.Message, Does.Contain(target).And.Contain("directory"));
        Assert.That(Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName), Is.EqualTo(new[] { "taken.gguf" }));
    }

    private static QuantizationResult Run(IModelSource source, int[][]? windows, string method, QuantizerConfig quantizer,
        IQuantizedBlockSink? sink) => GptqCheckpointStreamTests.Run(source, windows, method, quantizer, GptqCheckpointFormat.V2, sink);

    private static int[][] Windows(IModelSource source) => GptqCheckpointStreamTests.SyntheticWindows(source);
}
