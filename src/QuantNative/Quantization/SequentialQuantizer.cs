using System.Diagnostics;
using QuantNative.Cpu;
using QuantNative.Formats.Gptq;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats;
using QuantNative.Inference;
using QuantNative.Model.Quantized;
using QuantNative.Model;
using QuantNative.Quantization.Gptq;

namespace QuantNative.Quantization;

/// <summary>Sees the captured input of each linear-layer group: (block, stage, window, input [L, columns]).</summary>
public delegate void CaptureObserver(int layer, BlockStage stage, int window, ReadOnlySpan<float> input);

/// <summary>
/// Quantizes a model one block at a time (DESIGN.md §1), holding one block's weights and the calibration activations
/// X_q [n, L, hidden], never the whole model's activations:
/// X_q = embeddings of the calibration windows; for each block, in GPTQ's true-sequential order, the input of q/k/v
/// (shared) is captured from X_q and they are quantized; o's input is then computed through the quantized q/k/v;
/// gate/up's through the quantized attention; down's through the quantized gate/up. Finally X_q ← block_q(X_q).
/// Each capture re-runs the block's forward up to the needed stage (<see cref="BlockForward.RunStages"/>) rather than
/// storing intermediates, which would cost n·L·intermediate floats per block. A method that needs no calibration (RTN)
/// runs no forward at all.
/// <para>
/// With checkpoint format v1 every zero point of 0 is clamped to 1 (<see cref="V1Zeros.ClampToOne"/>) right after the
/// layer is quantized, and the counts are reported: the model the later layers are calibrated through, the in-memory
/// result and the exported checkpoint are then the same weights.
/// </para>
/// </summary>
public static class SequentialQuantizer
{
    public static QuantizationResult Run(IModelSource source, int[][]? calibration, ILayerQuantizer method,
        QuantizerConfig quantizer, GptqCheckpointFormat format, Action<long, long, string>? progress = null,
        CaptureObserver? observer = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var c = source.Config;
        int d = c.HiddenSize;
        var embedding = source.LoadTokenEmbedding();
        if (embedding.Length != (long)c.VocabSize * d)
            throw new QuantNativeException($"{source.Path}: token embedding has {embedding.Length} elements, expected {(long)c.VocabSize * d}");

        Activations? acts = null;
        if (method.NeedsCalibration)
            acts = new Activations(c, embedding, RequireWindows(calibration, c, method.Name));

        var blocks = new QuantizedBlock[c.NumLayers];
        var reports = new List<LayerReport>();
        long total = (long)c.NumLayers * BlockLinears.All.Length, done = 0;
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            var w = source.LoadBlock(layer);
            w.Validate(c, layer, source.Path);
            var linears = new Dictionary<string, QuantizedMatrix>();
            foreach (var group in BlockLinears.ByInput())
            {
                cancel.ThrowIfCancellationRequested();
                HessianAccumulator? hessian = null;
                if (acts != null)
                {
                    progress?.Invoke(done, total, $"block {layer} capturing {string.Join("/", group.Select(l => l.Part.Split('.')[1].Replace("_proj", "")))} inputs");
                    int columns = group.First().Shape(c).Columns;
                    hessian = new HessianAccumulator(columns, $"model.layers.{layer} {group.Key} input");
                    acts.Capture(layer, group.Key, w, hessian, observer);
                }
                foreach (var linear in group)
                {
                    string name = BlockLinears.Name(layer, linear);
                    progress?.Invoke(done, total, $"block {layer} {linear.Part}");
                    var (matrix, report) = QuantizeLayer(linear, w, c, name, hessian, method, quantizer, format);
                    linears[linear.Part] = matrix;
                    reports.Add(report);
                    progress?.Invoke(++done, total, $"block {layer} {linear.Part}");
                }
            }
            blocks[layer] = new QuantizedBlock { AttnNorm = w.AttnNorm, FfnNorm = w.FfnNorm, Linears = linears };
            // w now holds the dequantized weights: the next block's inputs pass through the quantized block.
            acts?.Advance(w);
        }

        var finalNorm = source.LoadFinalNorm();
        float[]? output = c.TieWordEmbeddings ? null : source.LoadOutput();
        var gptq = (method as GptqLayerQuantizer)?.Options;
        var model = new QuantizedModel
        {
            Config = c, Quantizer = quantizer, Method = method.Name, Format = format,
            ActOrder = gptq?.ActOrder ?? false, StaticGroups = gptq?.StaticGroups ?? false, DampPercent = gptq?.DampPercent,
            TokenEmbedding = embedding, Blocks = blocks, FinalNorm = finalNorm, Output = output,
            SourceDTypes = SourceDTypes(source),
        };
        return new QuantizationResult { Model = model, Layers = reports, Gptq = gptq, Seconds = clock.Elapsed.TotalSeconds };
    }

    private static (QuantizedMatrix, LayerReport) QuantizeLayer(BlockLinear linear, LlamaBlockWeights w, LlamaConfig c,
        string name, HessianAccumulator? hessian, ILayerQuantizer method, QuantizerConfig quantizer,
        GptqCheckpointFormat format)
    {
        var clock = Stopwatch.StartNew();
        var (rows, columns) = linear.Shape(c);
        float[] weights = linear.Weights(w);
        var original = (float[])weights.Clone();
        var result = method.Quantize(original, rows, columns, hessian, quantizer, name);
        var matrix = result.Matrix;
        int clampedGroups = 0, clippedCodes = 0;
        if (format == GptqCheckpointFormat.V1 && matrix.Zeros.Contains(0))
        {
            var clamped = V1Zeros.ClampToOne(matrix, name);
            (matrix, clampedGroups, clippedCodes) = (clamped.Matrix, clamped.ClampedGroups, clamped.ClippedCodes);
        }
        matrix.DequantizeInto(weights);
        double relative = GptqQuantizer.RelativeError(original, weights);
        var report = new LayerReport(name, rows, columns, relative, clock.Elapsed.TotalSeconds, clampedGroups,
            clippedCodes, result.DeadColumns, quantizer.Layout(columns).Note);
        return (matrix, report);
    }

    internal static int[][] RequireWindows(int[][]? calibration, LlamaConfig c, string method)
    {
        if (calibration is not { Length: > 0 })
            throw new QuantNativeException($"method {method} needs calibration windows (--calib), and none were given");
        int length = calibration[0].Length;
        if (length < 1 || length > c.MaxPositionEmbeddings)
            throw new QuantNativeException(
                $"calibration windows of {length} tokens: expected 1..{c.MaxPositionEmbeddings}, the model's context");
        foreach (var window in calibration)
        {
            if (window.Length != length)
                throw new QuantNativeException($"calibration windows of {window.Length} and {length} tokens: expected one length");
            foreach (int id in window)
                if ((uint)id >= (uint)c.VocabSize)
                    throw new QuantNativeException($"calibration token id {id} is outside the vocabulary of {c.VocabSize}");
        }
        return calibration;
    }

    internal static Dictionary<string, string> SourceDTypes(IModelSource source)
    {
        var names = new List<string> { HuggingFaceNames.Embedding, HuggingFaceNames.FinalNorm, HuggingFaceNames.Output };
        for (int i = 0; i < source.Config.NumLayers; i++)
        {
            names.Add(HuggingFaceNames.Block(i, "input_layernorm"));
            names.Add(HuggingFaceNames.Block(i, "post_attention_layernorm"));
        }
        var stored = source.Tensors.GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.First().DType);
        var result = new Dictionary<string, string>();
        foreach (var name in names)
            result[name] = stored.TryGetValue(name, out var dtype) && FloatDTypeExtensions.TryParseSafetensors(dtype, out _)
                ? dtype
                : "F32";
        return result;
    }

    /// <summary>X_q, one array [L, hidden] per calibration window, and the per-worker scratch of the block forwards.</summary>
    private sealed class Activations
    {
        private readonly LlamaConfig _c;
        private readonly float[][] _x;
        private readonly int _length;
        private readonly Rope _rope;
        private readonly Worker[] _workers;

        public Activations(LlamaConfig c, float[] embedding, int[][] windows)
        {
            _c = c;
            _length = windows[0].Length;
            int d = c.HiddenSize;
            _x = windows.Select(window =>
            {
                var x = new float[(long)_length * d];
                for (int t = 0; t < _length; t++) embedding.AsSpan(window[t] * d, d).CopyTo(x.AsSpan(t * d, d));
                return x;
            }).ToArray();
            _rope = new Rope(c.HeadDim, _length, c.RopeTheta);
            int workers = SequenceParallelism.Workers(c, windows.Length);
            _workers = Enumerable.Range(0, workers).Select(_ => new Worker(c, _length)).ToArray();
        }

        /// <summary>
        /// Runs every window through the block up to <paramref name="stage"/> and adds the captured inputs to
        /// <paramref name="hessian"/> in window order (the sum does not depend on the worker count).
        /// </summary>
        public void Capture(int layer, BlockStage stage, LlamaBlockWeights w, HessianAccumulator hessian,
            CaptureObserver? observer)
        {
            int columns = hessian.Columns;
            ForEachBatch((k, window) =>
            {
                var worker = _workers[k];
                _x[window].CopyTo(worker.X, 0);
                BlockForward.RunStages(stage, worker.X, w, _c, _rope, worker.Keys, worker.Values, 0, _length, worker.Workspace);
                var input = stage switch
                {
                    BlockStage.AttentionNorm or BlockStage.MlpNorm => worker.Workspace.Normed,
                    BlockStage.Attention => worker.Workspace.Attention,
                    BlockStage.MlpActivation => worker.Workspace.Gate,
                    _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, "no linear layer reads the block output"),
                };
                input.AsSpan(0, _length * columns).CopyTo(worker.Captured(columns));
            }, (k, window) =>
            {
                var captured = _workers[k].Captured(columns);
                observer?.Invoke(layer, stage, window, captured);
                hessian.AddBatch(captured, _length);
            });
        }

        /// <summary>X_q ← block(X_q), with the block's weights as they now are (quantized).</summary>
        public void Advance(LlamaBlockWeights w) =>
            ForEachBatch((k, window) =>
            {
                var worker = _workers[k];
                BlockForward.RunStages(BlockStage.DownProjection, _x[window], w, _c, _rope, worker.Keys, worker.Values,
                    0, _length, worker.Workspace);
            }, null);

        /// <summary>Windows in batches of one per worker: <paramref name="run"/> in parallel, then
        /// <paramref name="collect"/> in window order.</summary>
        private void ForEachBatch(Action<int, int> run, Action<int, int>? collect)
        {
            int workers = _workers.Length;
            using (workers > 1 ? Gemm.UseBlasThreads(1) : null)
            {
                for (int start = 0; start < _x.Length; start += workers)
                {
                    int count = Math.Min(workers, _x.Length - start);
                    int first = start;
                    Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = count }, k => run(k, first + k));
                    if (collect != null)
                        for (int k = 0; k < count; k++) collect(k, first + k);
                }
            }
        }

        private sealed class Worker(LlamaConfig c, int length)
        {
            public readonly BlockWorkspace Workspace = new(c, length);
            public readonly float[] X = new float[(long)length * c.HiddenSize];
            public readonly float[] Keys = new float[(long)length * c.KvDim];
            public readonly float[] Values = new float[(long)length * c.KvDim];
            private readonly float[] _captured = new float[(long)length * Math.Max(c.HiddenSize, c.IntermediateSize)];

            public Span<float> Captured(int columns) => _captured.AsSpan(0, length * columns);
        }
    }
}
