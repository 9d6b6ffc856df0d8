using System.Diagnostics;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;

namespace QuantNative.Quantization.Pipeline;

/// <summary>
/// The commit step of the block pipeline, the same for every method: a linear's quantized matrix is made storable
/// in the checkpoint format (v1 cannot store a zero point of 0: clamped to 1 with the group's codes shifted up,
/// <see cref="V1Zeros.ClampToOne"/>), dequantized into the weights the rest of the run computes with (so later blocks
/// calibrate through exactly what a runtime will dequantize), and reported. The committed blocks and the reports are
/// the run's result.
/// </summary>
public sealed class BlockCommitter(LlamaConfig config, QuantizerConfig quantizer, GptqCheckpointFormat format)
{
    private readonly Dictionary<string, QuantizedMatrix> _linears = new();
    private readonly List<LayerReport> _reports = [];
    private readonly Dictionary<string, Formats.Gguf.LearnedLinear> _learned = new();
    private readonly Dictionary<string, float[]> _importance = new();
    private Func<int, QuantizedBlock>? _loadResumed; // a resumed run's finished blocks, read when needed
    private int _resumedCount;

    public LlamaConfig Config { get; } = config;
    public QuantizerConfig Quantizer { get; } = quantizer;
    public GptqCheckpointFormat Format { get; } = format;
    public QuantizedBlock[] Blocks { get; } = new QuantizedBlock[config.NumLayers];
    public IReadOnlyList<LayerReport> Reports => _reports;

    /// <summary>
    /// Commits layer <paramref name="layer"/>'s <paramref name="linear"/>: <paramref name="quantize"/> makes the
    /// matrix (timed with the commit; GPTQ also counts its dead inputs), the stored values are dequantized into
    /// <paramref name="destination"/> and the relative error is taken against <paramref name="original"/>.
    /// </summary>
    public void Commit(int layer, BlockLinear linear, Func<(QuantizedMatrix Matrix, int DeadColumns)> quantize,
        float[] original, float[] destination)
    {
        var clock = Stopwatch.StartNew();
        string name = BlockLinears.Name(layer, linear);
        var (matrix, deadColumns) = quantize();
        int clampedGroups = 0, clippedCodes = 0;
        if (Format == GptqCheckpointFormat.V1 && matrix.Zeros.Contains(0))
        {
            var clamped = V1Zeros.ClampToOne(matrix, name);
            (matrix, clampedGroups, clippedCodes) = (clamped.Matrix, clamped.ClampedGroups, clamped.ClippedCodes);
        }
        matrix.DequantizeInto(destination);
        _linears[linear.Part] = matrix;
        _reports.Add(new LayerReport(name, matrix.Rows, matrix.Columns, GptqQuantizer.RelativeError(original, destination),
            clock.Elapsed.TotalSeconds, clampedGroups, clippedCodes, deadColumns, Quantizer.Layout(matrix.Columns).Note));
    }

    /// <summary>A learned linear's W' and clipping ranges, kept with the block (GGUF K-quant exports).</summary>
    public void AddLearned(string part, Formats.Gguf.LearnedLinear learned) => _learned[part] = learned;

    /// <summary>A linear's calibration input energy Σx² per column, kept with the block (GGUF K-quant exports).</summary>
    public void AddImportance(string part, float[] columnEnergy) => _importance[part] = columnEnergy;

    /// <summary>Closes block <paramref name="layer"/>: its committed linears with the norms and extras as they were.</summary>
    public void Finish(int layer, LlamaBlockWeights block)
    {
        if (_linears.Count != BlockLinears.All.Length)
            throw new InvalidOperationException($"block {layer}: {_linears.Count} of {BlockLinears.All.Length} linears committed");
        Blocks[layer] = new QuantizedBlock
        {
            AttnNorm = block.AttnNorm, FfnNorm = block.FfnNorm, Extras = block.Extras,
            Linears = new Dictionary<string, QuantizedMatrix>(_linears),
            Learned = _learned.Count > 0 ? new Dictionary<string, Formats.Gguf.LearnedLinear>(_learned) : null,
            Importance = _importance.Count > 0 ? new Dictionary<string, float[]>(_importance) : null,
        };
        _linears.Clear();
        _learned.Clear();
        _importance.Clear();
    }

    /// <summary>Hands finished block <paramref name="layer"/> to <paramref name="sink"/> and forgets it, so a run
    /// that streams its output holds one quantized block at a time (a resumed block is read from its file here).</summary>
    public void Stream(int layer, IQuantizedBlockSink sink)
    {
        sink.Write(layer, Blocks[layer] ?? Resumed(layer));
        Blocks[layer] = null!; // streamed: the model this run assembles holds no blocks (QuantizedModel.BlocksStreamed)
    }

    /// <summary>Restores the reports of a resumed run and how to read its <paramref name="count"/> finished blocks:
    /// one at a time as they are streamed, or all by <see cref="LoadResumed"/>.</summary>
    public void Resume(Func<int, QuantizedBlock> load, int count, IEnumerable<LayerReport> reports)
    {
        (_loadResumed, _resumedCount) = (load, count);
        _reports.AddRange(reports);
    }

    /// <summary>Reads every block a resumed run finished before, for a result that holds all blocks.</summary>
    public void LoadResumed()
    {
        for (int i = 0; i < _resumedCount; i++) Blocks[i] ??= Resumed(i);
    }

    private QuantizedBlock Resumed(int layer) =>
        layer < _resumedCount && _loadResumed != null
            ? _loadResumed(layer)
            : throw new InvalidOperationException($"block {layer} is not finished");
}
