using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Learned.Lwc;
using QuantNative.Quantization.Pipeline;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// Block-wise learned quantization in the block pipeline: OmniQuant's loop (learnable weight clipping trained block by
/// block, DESIGN.md §7.3–7.4) and what CQE+ adds to it (SDE, cross-layer learning, a start from earlier clipping;
/// §7.5–7.7), one block at a time (<see cref="LearnedBlock"/>), with the state after each block in a work directory
/// so that a killed run resumes to the same bytes. Norm weights stay fp32 and are not trained. Held at once: one
/// block's tensors (plus the look-ahead blocks) and the calibration activations (<see cref="LearnedReport.PeakBytes"/>),
/// never the whole model's fp32 blocks.
/// </summary>
public sealed class BlockwiseLearner(QuantizerConfig quantizer, GptqCheckpointFormat format, LearnedOptions options)
    : IBlockLearner
{
    private readonly List<BlockLoss> _losses = [];
    private int? _resumedAt;
    private (long ToDevice, long ToHost)? _transfersAtStart;

    public string Name => options.MethodName;
    internal LearnedOptions Options => options;
    internal QuantizerConfig Quantizer => quantizer;
    internal PipelineStart Start { get; private set; } = null!;
    internal TrainingActivations Activations { get; private set; } = null!;
    internal IBackend Backend => options.Backend ?? CpuBackend.Shared; // where the epochs run
    internal ClippingParameters Clipping { get; private set; } = null!;
    internal ClippingParameters? Init { get; private set; }
    internal LearnedWorkDirectory? State { get; private set; }
    internal int Epochs { get; private set; }
    internal long TotalSteps { get; private set; }
    internal long DoneSteps { get; set; }
    internal long PeakBytes { get; set; }
    internal IReadOnlyList<BlockLoss> Losses => _losses;
    internal void AddLoss(BlockLoss loss) => _losses.Add(loss);

    /// <summary>T_{i+1} from block i's look-ahead, waiting for block i+1 (never across a resume: a resumed run
    /// computes its first targets).</summary>
    private LookAheadTargetsHandOver? _handedOver;
    internal void HandOverTargets(LookAheadTargetsHandOver next) => _handedOver = next;
    internal LookAheadTargetsHandOver? TakeHandedOverTargets()
    {
        var next = _handedOver;
        _handedOver = null;
        return next;
    }

    int IBlockLearner.Start(PipelineStart start, BlockCommitter committer)
    {
        Start = start;
        options.Validate();
        if (Transfers is { } counters) _transfersAtStart = (counters.ToDevice, counters.ToHost);
        var c = start.Source.Config;
        var windows = CalibrationWindows.Require(start.Calibration, c, Name);
        Epochs = options.EpochsFor(quantizer.Bits);
        string identity = ClippingParameters.Identity(c, start.Embedding);
        Init = options.Cqe?.InitFrom is { } initDir ? ClippingParameters.Load(initDir, identity, quantizer) : null;
        if (options.Cqe?.Sde is { } sdeMask)
            foreach (var bl in BlockLinears.All)
                sdeMask.For(Math.Min(bl.Shape(c).Rows, bl.Shape(c).Columns), bl.Part); // refuses block:k beyond a layer's rank before any work
        Clipping = new ClippingParameters(identity, quantizer);
        int first = Resume(start, windows, committer);
        TotalSteps = (long)c.NumLayers * Epochs * windows.Length;
        DoneSteps = (long)first * Epochs * windows.Length;
        PeakBytes = Activations.Bytes;
        return first;
    }

    /// <summary>The activations and committed blocks of a resumed run, or the embedded windows of a new one.</summary>
    private int Resume(PipelineStart start, int[][] windows, BlockCommitter committer)
    {
        var c = start.Source.Config;
        bool aug = LearnedOptions.UsesAugLoss(quantizer.Bits);
        State = options.WorkDirectory == null
            ? null
            : new LearnedWorkDirectory(options.WorkDirectory,
                LearnedWorkDirectory.Fingerprint(start.Source, start.Embedding, windows, quantizer, format, options, Epochs));
        var resumed = State?.TryLoad(c, quantizer, format, windows.Length, windows[0].Length);
        if (resumed == null)
        {
            var xq = CalibrationWindows.Embed(start.Embedding, windows, c.HiddenSize);
            Activations = new TrainingActivations(Backend, c, xq, xq.Select(x => (float[])x.Clone()).ToArray(), aug);
            return 0;
        }
        Activations = new TrainingActivations(Backend, c, resumed.Xq, resumed.Xfp, aug);
        committer.Resume(resumed.LoadBlock, resumed.NextBlock, resumed.Layers);
        _losses.AddRange(resumed.Losses);
        for (int i = 0; i < resumed.NextBlock; i++) State!.LoadClipping(i, Clipping);
        _resumedAt = resumed.NextBlock;
        return resumed.NextBlock;
    }

    /// <summary>The copy counters of a CUDA backend's runtime; null on the CPU.</summary>
    private TransferCounters? Transfers => (options.Backend as CudaBackend)?.Runtime.Transfers;

    public IBlockLearning Targets(int layer, LlamaBlockWeights block)
    {
        TestHooks.Point($"block-start:{layer}");
        // Before the block trains: a full disk found only when its state is saved would waste the block's training.
        if (State is { } state)
        {
            var windows = Start.Calibration!;
            long floats = (long)windows.Length * windows[0].Length * Start.Source.Config.HiddenSize;
            state.EnsureSpace(layer, LearnedWorkDirectory.BlockSaveBytes(Start.Source.Config, quantizer, floats,
                options.Cqe?.Sde != null, options.KeepLearnedWeights));
        }
        return new LearnedBlock(this, layer, block);
    }

    public QuantizationResult Result(QuantizedModel model, BlockCommitter committer, double seconds)
    {
        Activations.Dispose();
        return new QuantizationResult
        {
            Model = model, Clipping = Clipping, Layers = committer.Reports, Seconds = seconds,
            Learned = new LearnedReport(_losses, Epochs, options.LearningRate, LearnedOptions.UsesAugLoss(quantizer.Bits),
                options.Seed, PeakBytes, _resumedAt)
            {
                Cqe = options.Cqe, Device = options.Backend?.Description ?? "cpu", SearchInit = options.SearchInit,
                Transfers = Transfers is { } now && _transfersAtStart is var (toDevice, toHost)
                    ? (now.ToDevice - toDevice, now.ToHost - toHost, TotalSteps - (_resumedAt ?? 0) * (TotalSteps / Start.Source.Config.NumLayers))
                    : null,
            },
        };
    }
}

/// <summary>The learned methods' entry point: <see cref="BlockPipeline"/> with a <see cref="BlockwiseLearner"/>.</summary>
public static class LearnedQuantizer
{
    public static QuantizationResult Run(IModelSource source, int[][]? calibration, QuantizerConfig quantizer,
        GptqCheckpointFormat format, LearnedOptions options, Action<long, long, string>? progress = null,
        CancellationToken cancel = default) =>
        BlockPipeline.Run(source, calibration, new BlockwiseLearner(quantizer, format, options), quantizer, format,
            progress, cancel);
}
