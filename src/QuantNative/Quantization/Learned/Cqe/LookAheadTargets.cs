using QuantNative.Backends;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Pipeline;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned.Cqe;

/// <summary>
/// Cross-layer learning's look-ahead for one block i (DESIGN.md §7.7): the chain of blocks i+1..i+D' (D' = D, shrunk
/// at the end of the model) with fp or RTN weights, and the fp trajectory's targets T_{i+d} = B_{i+d}^fp(T_{i+d−1})
/// of every calibration window, starting from T_i, computed on the training backend and kept there. Memory: D'
/// blocks (twice with RTN look-ahead while the targets are made) and D' target buffers of every window; the chain's
/// activations are allocated by the epochs. T_{i+1} is exactly block i+1's own target, so it is handed over to the
/// next block (<see cref="HandOver"/>) rather than computed twice.
/// </summary>
public sealed class LookAheadTargets : IDisposable
{
    private readonly BackendBuffer<float>[]?[] _targets; // [d][window]; [0] null once handed over
    private readonly float[][]? _hostNext;               // T_{i+1}'s host arrays (CPU backend: what its buffers wrap)

    private LookAheadTargets(BlockTensors<float>[] blocks, BackendBuffer<float>[][] targets, float[][]? hostNext, long bytes)
    {
        Blocks = blocks;
        _targets = targets;
        _hostNext = hostNext;
        Bytes = bytes;
    }

    /// <summary>The look-ahead blocks' weights (fp or RTN), in the chain's order.</summary>
    public IReadOnlyList<BlockTensors<float>> Blocks { get; }

    public int Depth => Blocks.Count;

    /// <summary>Bytes of host arrays (the blocks; on the CPU the targets too; device buffers are counted where they
    /// are allocated, <see cref="BufferMeter"/>).</summary>
    public long Bytes { get; }

    /// <summary>T_{i+1..i+D'} of one window, in the chain's order.</summary>
    public BackendBuffer<float>[] For(int window) => _targets.Select(t => t![window]).ToArray();

    /// <summary>T_{i+1} of every window, for block i+1 to use as its targets; this object no longer owns them.</summary>
    public LookAheadTargetsHandOver HandOver()
    {
        var next = _targets[0] ?? throw new InvalidOperationException("the look-ahead targets were handed over already");
        _targets[0] = null;
        return new LookAheadTargetsHandOver(_hostNext, next);
    }

    /// <summary>The look-ahead of block <paramref name="layer"/>, or null for the last block (nothing after it).</summary>
    /// <param name="targets">T_i of every window [tokens, hidden], on <paramref name="scratch"/>'s backend.</param>
    /// <param name="scratch">Activations to run the target forwards with (overwritten).</param>
    public static LookAheadTargets? Create(IModelSource source, int layer, CqeOptions cqe, QuantizerConfig quantizer,
        IReadOnlyList<BackendBuffer<float>> targets, BlockActivations<float> scratch, int tokens)
    {
        var c = source.Config;
        var backend = scratch.Backend;
        int count = Math.Min(cqe.LookAheadDepth, c.NumLayers - 1 - layer);
        if (count <= 0) return null;
        var chainBlocks = new BlockTensors<float>[count];
        var windowTargets = new BackendBuffer<float>[count][];
        float[][]? hostNext = null;
        var hosts = new List<float[]>();
        IReadOnlyList<BackendBuffer<float>> previous = targets;
        for (int d = 0; d < count; d++)
        {
            int index = layer + 1 + d;
            var fp = BlockTensors<float>.From(BlockPipeline.LoadBlock(source, index));
            using var weights = BlockBuffers<float>.Bind(backend, fp);
            var made = previous.Select(t =>
            {
                var next = HostArrays.New<float>(backend, t.Length);
                TrainingBlock.Forward(next.Buffer, scratch, t, weights, c, tokens);
                return next;
            }).ToArray();
            windowTargets[d] = made.Select(m => m.Buffer).ToArray();
            if (made[0].Host != null) hosts.AddRange(made.Select(m => m.Host!));
            if (d == 0 && made[0].Host != null) hostNext = made.Select(m => m.Host!).ToArray();
            previous = windowTargets[d];
            chainBlocks[d] = cqe.LookAhead == LookAheadWeights.Fp ? fp : RtnWeights(fp, c, quantizer, index);
        }
        long bytes = BufferMeter.HostBytes([.. chainBlocks.SelectMany(b => b.All().Select(x => x.Tensor)), .. hosts]);
        return new LookAheadTargets(chainBlocks, windowTargets, hostNext, bytes);
    }

    public void Dispose()
    {
        foreach (var d in _targets)
            foreach (var b in d ?? []) b.Dispose();
    }

    /// <summary>A block's weights with each linear replaced by its RTN-quantized, dequantized values.</summary>
    private static BlockTensors<float> RtnWeights(BlockTensors<float> fp, LlamaConfig c, QuantizerConfig quantizer, int layer)
    {
        var linears = fp.Linears().Select(t => t.Tensor).ToArray();
        var q = BlockLinears.All.Select((bl, i) =>
        {
            var (rows, columns) = bl.Shape(c);
            var dequantized = new float[linears[i].Length];
            Rtn.Quantize(linears[i], rows, columns, quantizer, BlockLinears.Name(layer, bl)).DequantizeInto(dequantized);
            return dequantized;
        }).ToArray();
        return new BlockTensors<float>
        {
            AttnNorm = fp.AttnNorm, FfnNorm = fp.FfnNorm, Extras = fp.Extras, Wq = q[0], Wk = q[1], Wv = q[2], Wo = q[3], WGate = q[4],
            WUp = q[5], WDown = q[6],
        };
    }
}

/// <summary>T_{i+1} of every window, computed by block i's look-ahead and handed to block i+1 as its targets: the
/// buffers, and on the CPU backend the host arrays they wrap (null on a device).</summary>
public sealed record LookAheadTargetsHandOver(float[][]? Host, BackendBuffer<float>[] Buffers);
