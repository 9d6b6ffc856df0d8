using QuantNative.Formats;
using QuantNative.Model;

namespace QuantNative.Quantization.Pipeline;

/// <summary>
/// What a quantization method does inside the block pipeline (<see cref="BlockPipeline"/>): where its calibration
/// activations start (embedded windows, a resumed work directory, or none), and for each block its learning
/// (<see cref="IBlockLearning"/>). A new method is a learner and an entry in <see cref="Methods.QuantizationMethods"/>.
/// </summary>
public interface IBlockLearner
{
    /// <summary>The method's name as the command line spells it.</summary>
    string Name { get; }

    /// <summary>Prepares the run (calibration activations, or the state of a resumed run, restored into
    /// <paramref name="committer"/>) and returns the first block still to quantize.</summary>
    int Start(PipelineStart start, BlockCommitter committer);

    /// <summary>The learning of block <paramref name="layer"/>: computes what it learns against (the targets).</summary>
    IBlockLearning Targets(int layer, LlamaBlockWeights block);

    /// <summary>The run's result around the assembled model: what the method reports besides the per-layer errors.</summary>
    QuantizationResult Result(QuantizedModel model, BlockCommitter committer, double seconds);
}

/// <summary>One block's steps after its targets, in pipeline order.</summary>
public interface IBlockLearning
{
    /// <summary>Learns the quantization of the block's linears (nothing, GPTQ, LWC, LWC+SDE+CLL) and commits each
    /// through <paramref name="committer"/> (GPTQ between its groups, the learned methods after training).</summary>
    void Learn(BlockCommitter committer);

    /// <summary>X_q ← B^q(X_q) through the committed weights (and X_fp ← T for methods with targets).</summary>
    void Propagate();

    /// <summary>Whatever outlives the block: the resume state of the learned methods.</summary>
    void Save(BlockCommitter committer);
}

/// <summary>What a learner starts from: the model, its checked token embedding, the calibration windows (null for
/// methods without calibration), progress and cancellation.</summary>
public sealed record PipelineStart(IModelSource Source, float[] Embedding, int[][]? Calibration,
    Action<long, long, string>? Progress, CancellationToken Cancel);
