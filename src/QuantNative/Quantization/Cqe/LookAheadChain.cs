using System.Numerics;
using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Quantization.Cqe;

/// <summary>
/// Cross-layer learning's look-ahead (DESIGN.md §7.7): the frozen blocks i+1..i+D after the block being trained,
/// run on its output Y_i. For one window, <see cref="ForwardBackward"/> computes
/// λ·Σ_{d=1..D} MSE(Z_d, T_{i+d}), Z_d = B_{i+d} ∘ … ∘ B_{i+1}(Y_i), and adds its gradient with respect to Y_i to dY
/// (backpropagating through the chain: the gradient arriving at Z_{d−1} from the blocks above gets the
/// λ·dMSE(Z_{d−1}, T_{i+d−1}) term added before it goes through B_{i+d−1}). The blocks' own weight gradients are
/// computed by the block backward into a scratch and dropped: the look-ahead blocks are frozen. Generic over float
/// (training) and double (the finite-difference reference). Holds D blocks' activations and D outputs.
/// </summary>
public sealed class LookAheadChain<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly LlamaConfig _c;
    private readonly IReadOnlyList<BlockTensors<T>> _blocks;
    private readonly Rope _rope;
    private readonly BlockActivations<T>[] _saved;
    private readonly T[][] _z;
    private readonly T[] _gradient;
    private readonly BlockTensors<T> _droppedWeightGradients;
    private readonly BlockGradientWorkspace<T> _workspace;

    /// <param name="blocks">The look-ahead blocks' weights in order (full precision or RTN-quantized); 1 or more.</param>
    public LookAheadChain(LlamaConfig c, IReadOnlyList<BlockTensors<T>> blocks, Rope rope, int capacity)
    {
        if (blocks.Count < 1) throw new ArgumentException("a look-ahead chain needs at least one block", nameof(blocks));
        _c = c;
        _blocks = blocks;
        _rope = rope;
        _saved = blocks.Select(_ => new BlockActivations<T>(c, capacity)).ToArray();
        _z = blocks.Select(_ => new T[(long)capacity * c.HiddenSize]).ToArray();
        _gradient = new T[(long)capacity * c.HiddenSize];
        _droppedWeightGradients = BlockTensors<T>.Zeros(c);
        _workspace = new BlockGradientWorkspace<T>(c, capacity);
    }

    public int Depth => _blocks.Count;

    /// <summary>Bytes held: D blocks' weights and activations, D outputs, the gradient, the scratch gradients and workspace.</summary>
    public static long Bytes(LlamaConfig c, int depth, int tokens, long blockValues) =>
        System.Runtime.CompilerServices.Unsafe.SizeOf<T>() * (depth * (blockValues + BlockActivations<T>.ValuesPerWindow(c, tokens)
            + (long)tokens * c.HiddenSize) + (long)tokens * c.HiddenSize + blockValues
            + 4L * tokens * c.HiddenSize + 2L * tokens * c.KvDim + 2L * tokens * c.IntermediateSize);

    /// <summary>λ·Σ_d MSE(Z_d, T_{i+d}) for the window <paramref name="y"/> [tokens, hidden], without gradients.</summary>
    public double Loss(T[] y, int tokens, IReadOnlyList<T[]> targets, double lambda)
    {
        Forward(y, tokens, targets);
        return lambda * SumOfLosses(tokens, targets);
    }

    /// <summary>Returns λ·Σ_d MSE(Z_d, T_{i+d}) and adds its gradient with respect to <paramref name="y"/> to
    /// <paramref name="dy"/>. <paramref name="targets"/>[d − 1] = T_{i+d} for this window.</summary>
    public double ForwardBackward(T[] y, int tokens, IReadOnlyList<T[]> targets, double lambda, T[] dy)
    {
        Forward(y, tokens, targets);
        long count = (long)tokens * _c.HiddenSize;
        int depth = Depth;
        MseLoss.Backward(_gradient, lambda, _z[depth - 1], targets[depth - 1], count);
        for (int d = depth - 1; d >= 0; d--)
        {
            TrainingBlock.Backward(_gradient, _droppedWeightGradients, _gradient, _saved[d], _blocks[d], _c, _rope,
                _workspace);
            if (d > 0) MseLoss.Backward(_gradient, lambda, _z[d - 1], targets[d - 1], count, accumulate: true);
        }
        for (long n = 0; n < count; n++) dy[n] += _gradient[n];
        return lambda * SumOfLosses(tokens, targets);
    }

    private void Forward(T[] y, int tokens, IReadOnlyList<T[]> targets)
    {
        if (targets.Count != Depth)
            throw new ArgumentException($"{targets.Count} look-ahead targets for a chain of depth {Depth}", nameof(targets));
        for (int d = 0; d < Depth; d++)
            TrainingBlock.Forward(_z[d], _saved[d], d == 0 ? y : _z[d - 1], _blocks[d], _c, _rope, tokens);
    }

    private double SumOfLosses(int tokens, IReadOnlyList<T[]> targets)
    {
        long count = (long)tokens * _c.HiddenSize;
        double sum = 0;
        for (int d = 0; d < Depth; d++) sum += MseLoss.Forward(_z[d], targets[d], count);
        return sum;
    }
}
