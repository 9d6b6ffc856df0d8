using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Pipeline;

namespace QuantNative.Quantization.Sequential;

/// <summary>Sees the captured input of each linear-layer group: (block, stage, window, input [L, columns]).</summary>
public delegate void CaptureObserver(int layer, BlockStage stage, int window, ReadOnlySpan<float> input);

/// <summary>X_q, one array [L, hidden] per calibration window, and the per-worker scratch of the block forwards.</summary>
public sealed class SequentialActivations
{
    private readonly LlamaConfig _c;
    private readonly float[][] _x;
    private readonly int _length;
    private readonly Rope _rope;
    private readonly Worker[] _workers;

    public SequentialActivations(LlamaConfig c, float[] embedding, int[][] windows)
    {
        _c = c;
        _length = windows[0].Length;
        _x = CalibrationWindows.Embed(embedding, windows, c.HiddenSize);
        _rope = new Rope(c.HeadDim, _length, c.Rope);
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
        private readonly float[] _captured = new float[(long)length * Math.Max(Math.Max(c.HiddenSize, c.QDim), c.IntermediateSize)];

        public Span<float> Captured(int columns) => _captured.AsSpan(0, length * columns);
    }
}
