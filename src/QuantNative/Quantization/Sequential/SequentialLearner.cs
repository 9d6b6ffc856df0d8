using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Pipeline;

namespace QuantNative.Quantization.Sequential;

/// <summary>
/// The per-layer methods (RTN, GPTQ) in the block pipeline: they learn nothing across a block, and quantize each
/// linear from its own weights and, when the method asks for it, the Hessian of its calibration inputs. GPTQ's
/// true-sequential order: the shared input of q/k/v is captured from X_q and they are quantized and committed; o's
/// input is then computed through the committed q/k/v, gate/up's through the committed attention, down's through
/// the committed gate/up (<see cref="SequentialActivations.Capture"/> re-runs the block up to the needed stage rather
/// than storing intermediates). Finally X_q ← B^q(X_q). A method that needs no calibration (RTN) runs no forward.
/// </summary>
public sealed class SequentialLearner(ILayerQuantizer method, CaptureObserver? observer = null) : IBlockLearner
{
    private readonly ILayerQuantizer _method = method;
    private readonly CaptureObserver? _observer = observer;
    private SequentialActivations? _activations;
    private PipelineStart? _start;
    private long _done;

    public string Name => _method.Name;

    public int Start(PipelineStart start, BlockCommitter committer)
    {
        _start = start;
        if (_method.NeedsCalibration)
            _activations = new SequentialActivations(start.Source.Config, start.Embedding,
                CalibrationWindows.Require(start.Calibration, start.Source.Config, _method.Name));
        return 0;
    }

    public IBlockLearning Targets(int layer, LlamaBlockWeights block) => new Block(this, layer, block);

    public QuantizationResult Result(QuantizedModel model, BlockCommitter committer, double seconds)
    {
        var gptq = (_method as GptqLayerQuantizer)?.Options;
        var exported = model with
        {
            ActOrder = gptq?.ActOrder ?? false, StaticGroups = gptq?.StaticGroups ?? false, DampPercent = gptq?.DampPercent,
        };
        return new QuantizationResult { Model = exported, Layers = committer.Reports, Gptq = gptq, Seconds = seconds };
    }

    private sealed class Block(SequentialLearner learner, int layer, LlamaBlockWeights w) : IBlockLearning
    {
        public void Learn(BlockCommitter committer)
        {
            var start = learner._start!;
            var c = committer.Config;
            long total = (long)c.NumLayers * BlockLinears.All.Length;
            foreach (var group in BlockLinears.ByInput())
            {
                start.Cancel.ThrowIfCancellationRequested();
                var hessian = Capture(group, c, total);
                foreach (var linear in group)
                {
                    start.Progress?.Invoke(learner._done, total, $"block {layer} {linear.Part}");
                    var (rows, columns) = linear.Shape(c);
                    float[] weights = linear.Weights(w);
                    var original = (float[])weights.Clone();
                    committer.Commit(layer, linear, () =>
                    {
                        var result = learner._method.Quantize(original, rows, columns, hessian, committer.Quantizer,
                            BlockLinears.Name(layer, linear));
                        return (result.Matrix, result.DeadColumns);
                    }, original, weights);
                    if (hessian != null) committer.AddImportance(linear.Part, hessian.ColumnEnergy());
                    start.Progress?.Invoke(++learner._done, total, $"block {layer} {linear.Part}");
                }
            }
        }

        /// <summary>The Hessian of the group's shared input through the committed part of the block (null for
        /// methods without calibration).</summary>
        private HessianAccumulator? Capture(IGrouping<BlockStage, BlockLinear> group, LlamaConfig c, long total)
        {
            if (learner._activations is not { } acts) return null;
            learner._start!.Progress?.Invoke(learner._done, total,
                $"block {layer} capturing {string.Join("/", group.Select(l => l.Part.Split('.')[1].Replace("_proj", "")))} inputs");
            int columns = group.First().Shape(c).Columns;
            var hessian = new HessianAccumulator(columns, $"model.layers.{layer} {group.Key} input");
            acts.Capture(layer, group.Key, w, hessian, learner._observer);
            return hessian;
        }

        /// <summary>w now holds the dequantized weights: the next block's inputs pass through the quantized block.</summary>
        public void Propagate() => learner._activations?.Advance(w);

        public void Save(BlockCommitter committer) { }
    }
}

/// <summary>The per-layer methods' entry point: <see cref="BlockPipeline"/> with a <see cref="SequentialLearner"/>.</summary>
public static class SequentialQuantizer
{
    public static QuantizationResult Run(IModelSource source, int[][]? calibration, ILayerQuantizer method,
        QuantizerConfig quantizer, GptqCheckpointFormat format, Action<long, long, string>? progress = null,
        CaptureObserver? observer = null, CancellationToken cancel = default) =>
        BlockPipeline.Run(source, calibration, new SequentialLearner(method, observer), quantizer, format, progress, cancel);
}
