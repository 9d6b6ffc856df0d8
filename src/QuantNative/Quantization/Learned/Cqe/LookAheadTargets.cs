using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Model.Quantized;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned.Cqe;

/// <summary>
/// Cross-layer learning's look-ahead for one block i (DESIGN.md §7.7): the chain of blocks i+1..i+D' (D' = D, shrunk
/// at the end of the model) with fp or RTN weights, and the fp trajectory's targets T_{i+d} = B_{i+d}^fp(T_{i+d−1})
/// of every calibration window, starting from T_i. Memory: D' blocks (twice with RTN look-ahead while the targets
/// are made), their activations, and D' target buffers of every window (<see cref="Bytes"/>). The training epochs
/// put the chain on their backend (<see cref="LookAheadChain{T}"/> over <see cref="Blocks"/>) and feed it
/// <see cref="For"/> per step, like the windows.
/// </summary>
public sealed class LookAheadTargets
{
    private readonly float[][][] _targets; // [d][window]

    private LookAheadTargets(BlockTensors<float>[] blocks, float[][][] targets, long bytes)
    {
        Blocks = blocks;
        _targets = targets;
        Bytes = bytes;
    }

    /// <summary>The look-ahead blocks' weights (fp or RTN), in the chain's order.</summary>
    public IReadOnlyList<BlockTensors<float>> Blocks { get; }

    public int Depth => Blocks.Count;
    public long Bytes { get; }

    /// <summary>T_{i+1..i+D'} of one window, in the chain's order.</summary>
    public float[][] For(int window) => _targets.Select(t => t[window]).ToArray();

    /// <summary>The look-ahead of block <paramref name="layer"/>, or null for the last block (nothing after it).</summary>
    /// <param name="targets">T_i of every window [tokens, hidden].</param>
    /// <param name="scratch">Activations to run the target forwards with (overwritten).</param>
    public static LookAheadTargets? Create(IModelSource source, int layer, CqeOptions cqe, QuantizerConfig quantizer,
        float[][] targets, BlockActivations<float> scratch, Rope rope, int tokens)
    {
        var c = source.Config;
        int count = Math.Min(cqe.LookAheadDepth, c.NumLayers - 1 - layer);
        if (count <= 0) return null;
        var chainBlocks = new BlockTensors<float>[count];
        var windowTargets = new float[count][][];
        var previous = targets;
        for (int d = 0; d < count; d++)
        {
            int index = layer + 1 + d;
            var w = source.LoadBlock(index);
            w.Validate(c, index, source.Path);
            var fp = BlockTensors<float>.From(w);
            windowTargets[d] = previous.Select(t =>
            {
                var next = new float[t.Length];
                TrainingBlock.Forward(next, scratch, t, fp, c, rope, tokens);
                return next;
            }).ToArray();
            previous = windowTargets[d];
            chainBlocks[d] = cqe.LookAhead == LookAheadWeights.Fp ? fp : RtnWeights(fp, c, quantizer, index);
        }
        // Host arrays only: the chain's activations are allocated by the epochs on their backend and counted there.
        long bytes = BufferMeter.HostBytes([.. chainBlocks.SelectMany(b => b.All().Select(x => x.Tensor)), .. windowTargets.SelectMany(w => w)]);
        return new LookAheadTargets(chainBlocks, windowTargets, bytes);
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
            AttnNorm = fp.AttnNorm, FfnNorm = fp.FfnNorm, Wq = q[0], Wk = q[1], Wv = q[2], Wo = q[3], WGate = q[4],
            WUp = q[5], WDown = q[6],
        };
    }
}
