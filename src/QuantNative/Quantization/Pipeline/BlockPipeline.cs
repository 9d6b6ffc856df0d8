using System.Diagnostics;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Formats.HuggingFace;
using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Quantization.Pipeline;

/// <summary>
/// The one block pipeline every method runs through (DESIGN.md §1), one block at a time, never holding the whole
/// model: load block i → targets → learn (nothing / GPTQ / LWC / LWC+SDE+CLL, <see cref="IBlockLearner"/>) → commit
/// (<see cref="BlockCommitter"/>) → propagate the calibration activations through the committed block → save →
/// hand the block to the output (<see cref="IQuantizedBlockSink"/>, when one is given) and forget it.
/// </summary>
public static class BlockPipeline
{
    public static QuantizationResult Run(IModelSource source, int[][]? calibration, IBlockLearner learner,
        QuantizerConfig quantizer, GptqCheckpointFormat format, Action<long, long, string>? progress = null,
        CancellationToken cancel = default, IQuantizedBlockSink? sink = null)
    {
        var clock = Stopwatch.StartNew();
        var c = source.Config;
        var embedding = LoadEmbedding(source);
        var committer = new BlockCommitter(c, quantizer, format);
        int first = learner.Start(new PipelineStart(source, embedding, calibration, progress, cancel), committer);
        if (sink != null)
            for (int layer = 0; layer < first; layer++) committer.Stream(layer, sink); // a resumed run's finished blocks
        else committer.LoadResumed();
        for (int layer = first; layer < c.NumLayers; layer++)
        {
            cancel.ThrowIfCancellationRequested();
            RunBlock(source, layer, learner, committer, sink);
            ReturnBlockMemory();
        }
        ReturnMemoryToTheSystem();
        return learner.Result(Assemble(source, embedding, committer, learner.Name, sink != null), committer,
            clock.Elapsed.TotalSeconds);
    }

    // Its own method so that nothing of the block is reachable once it returns (a loop's locals may stay live).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void RunBlock(IModelSource source, int layer, IBlockLearner learner, BlockCommitter committer,
        IQuantizedBlockSink? sink)
    {
        var block = LoadBlock(source, layer);
        var learning = learner.Targets(layer, block);
        learning.Learn(committer);
        committer.Finish(layer, block);
        learning.Propagate();
        learning.Save(committer);
        if (sink != null) committer.Stream(layer, sink);
    }

    /// <summary>
    /// Collects the finished block's arrays now and compacts the large-object heap: every block allocates the same
    /// large arrays afresh, and left to itself the collector lets their holes accumulate (TinyLlama-shape RTN grew from
    /// 1.0 to 1.5 GB over its 22 blocks). A full collection costs milliseconds against a block's seconds, and makes
    /// the peak <see cref="QuantizationMemory"/> prints a bound the run keeps.
    /// </summary>
    private static void ReturnBlockMemory()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    /// <summary>
    /// Before the end (the lm_head loaded beside the embedding, the output finished): hands the memory the blocks used
    /// back to the system. The collector keeps the regions it freed committed for reuse, and what the end allocated (the
    /// fp32 lm_head) came on top of them: a TinyLlama-shape omniquant run peaked at 1.93 GiB at the end against 1.59 GiB
    /// over its blocks; with this, 1.59 GiB over the blocks and 0.63 GiB at the end (the printed peak counts them apart).
    /// </summary>
    private static void ReturnMemoryToTheSystem() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>Block <paramref name="layer"/>'s fp32 weights, checked against the config.</summary>
    public static LlamaBlockWeights LoadBlock(IModelSource source, int layer)
    {
        var w = source.LoadBlock(layer);
        w.Validate(source.Config, layer, source.Path);
        return w;
    }

    private static float[] LoadEmbedding(IModelSource source)
    {
        var c = source.Config;
        var embedding = source.LoadTokenEmbedding();
        if (embedding.Length != (long)c.VocabSize * c.HiddenSize)
            throw new QuantNativeException($"{source.Path}: token embedding has {embedding.Length} elements, expected {(long)c.VocabSize * c.HiddenSize}");
        return embedding;
    }

    /// <summary>The checkpoint's content: the committed blocks and the tensors that stay as they were.</summary>
    private static QuantizedModel Assemble(IModelSource source, float[] embedding, BlockCommitter committer, string method,
        bool streamed)
    {
        var c = source.Config;
        return new QuantizedModel
        {
            Config = c, Quantizer = committer.Quantizer, Method = method, Format = committer.Format,
            TokenEmbedding = embedding, Blocks = streamed ? [] : committer.Blocks, BlocksStreamed = streamed,
            FinalNorm = source.LoadFinalNorm(),
            Output = c.TieWordEmbeddings ? null : source.LoadOutput(), SourceDTypes = SourceDTypes(source),
        };
    }

    /// <summary>The stored dtype of each tensor that is not quantized (F32 when the source has none or another kind).</summary>
    public static Dictionary<string, string> SourceDTypes(IModelSource source)
    {
        var names = new List<string> { HuggingFaceNames.Embedding, HuggingFaceNames.FinalNorm, HuggingFaceNames.Output };
        for (int i = 0; i < source.Config.NumLayers; i++)
        {
            names.Add(HuggingFaceNames.Block(i, "input_layernorm"));
            names.Add(HuggingFaceNames.Block(i, "post_attention_layernorm"));
            names.AddRange(BlockExtraParts.Of(source.Config).Select(p => HuggingFaceNames.Extra(i, p.Part)));
        }
        var stored = source.Tensors.GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.First().DType);
        var result = new Dictionary<string, string>();
        foreach (var name in names)
            result[name] = stored.TryGetValue(name, out var dtype) && FloatDTypeExtensions.TryParseSafetensors(dtype, out _)
                ? dtype
                : "F32";
        return result;
    }
}
