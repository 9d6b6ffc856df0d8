using System.Numerics;
using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned.Cqe;

/// <summary>
/// Cross-layer learning's look-ahead (DESIGN.md §7.7): the frozen blocks i+1..i+D after the block being trained,
/// run on its output Y_i. For one window, <see cref="ForwardBackward(BackendBuffer{T}, int, IReadOnlyList{BackendBuffer{T}}, double, BackendBuffer{T})"/>
/// computes λ·Σ_{d=1..D} MSE(Z_d, T_{i+d}), Z_d = B_{i+d} ∘ … ∘ B_{i+1}(Y_i), and adds its gradient with respect to
/// Y_i to dY (backpropagating through the chain: the gradient arriving at Z_{d−1} from the blocks above gets the
/// λ·dMSE(Z_{d−1}, T_{i+d−1}) term added before it goes through B_{i+d−1}). The blocks' own weight gradients are
/// computed by the block backward into a scratch and dropped: the look-ahead blocks are frozen. Written once against
/// <see cref="IBackend"/> (the training epochs run it on their backend); the array overloads are CPU conveniences
/// for the finite-difference reference in double. Holds D blocks' activations and D outputs.
/// </summary>
public sealed class LookAheadChain<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly IBackend _backend;
    private readonly LlamaConfig _c;
    private readonly IReadOnlyList<BlockBuffers<T>> _blocks;
    private readonly BlockActivations<T>[] _saved;
    private readonly BackendBuffer<T>[] _z;
    private readonly BackendBuffer<T> _gradient;
    private readonly BlockBuffers<T> _droppedWeightGradients;
    private readonly BlockGradientWorkspace<T> _workspace;

    /// <summary>A chain on the CPU over the arrays of <paramref name="blocks"/> (no copies).</summary>
    /// <param name="blocks">The look-ahead blocks' weights in order (full precision or RTN-quantized); 1 or more.</param>
    /// <param name="rope">Must use the config's RoPE base (the backend ops take it from <paramref name="c"/>).</param>
    public LookAheadChain(LlamaConfig c, IReadOnlyList<BlockTensors<T>> blocks, Rope rope, int capacity)
        : this(CpuBackend.Shared, c, blocks.Select(b => BlockBuffers<T>.Wrap(CpuBackend.Shared, b)).ToArray(), capacity)
    {
        if (rope.Parameters != c.Rope || rope.HeadDim != c.HeadDim || rope.MaxPositions < capacity)
            throw new ArgumentException($"RoPE table (head dim {rope.HeadDim}, {rope.Parameters}, {rope.MaxPositions} " +
                                        $"positions) does not match the config (head dim {c.HeadDim}, {c.Rope}) " +
                                        $"and {capacity} tokens", nameof(rope));
    }

    /// <summary>A chain on <paramref name="backend"/> over weights already in its buffers (not owned: the caller
    /// disposes them).</summary>
    public LookAheadChain(IBackend backend, LlamaConfig c, IReadOnlyList<BlockBuffers<T>> blocks, int capacity)
    {
        if (blocks.Count < 1) throw new ArgumentException("a look-ahead chain needs at least one block", nameof(blocks));
        _backend = backend;
        _c = c;
        _blocks = blocks;
        _saved = blocks.Select(_ => new BlockActivations<T>(backend, c, capacity)).ToArray();
        _z = blocks.Select(_ => backend.Allocate<T>((long)capacity * c.HiddenSize)).ToArray();
        _gradient = backend.Allocate<T>((long)capacity * c.HiddenSize);
        _droppedWeightGradients = BlockBuffers<T>.Allocate(backend, c);
        _workspace = new BlockGradientWorkspace<T>(backend, c, capacity);
    }

    public int Depth => _blocks.Count;

    /// <summary>λ·Σ_d MSE(Z_d, T_{i+d}) for the window <paramref name="y"/> [tokens, hidden], without gradients (CPU).</summary>
    public double Loss(T[] y, int tokens, IReadOnlyList<T[]> targets, double lambda)
    {
        var cpu = Cpu();
        var t = targets.Select(cpu.Wrap).ToArray();
        Forward(cpu.Wrap(y), tokens, t);
        return lambda * SumOfLosses(tokens, t);
    }

    /// <summary>The array form of <see cref="ForwardBackward(BackendBuffer{T}, int, IReadOnlyList{BackendBuffer{T}}, double, BackendBuffer{T})"/>
    /// on a CPU chain.</summary>
    public double ForwardBackward(T[] y, int tokens, IReadOnlyList<T[]> targets, double lambda, T[] dy)
    {
        var cpu = Cpu();
        return ForwardBackward(cpu.Wrap(y), tokens, targets.Select(cpu.Wrap).ToArray(), lambda, cpu.Wrap(dy));
    }

    /// <summary>Returns λ·Σ_d MSE(Z_d, T_{i+d}) and adds its gradient with respect to <paramref name="y"/> to
    /// <paramref name="dy"/>. <paramref name="targets"/>[d − 1] = T_{i+d} for this window.</summary>
    public double ForwardBackward(BackendBuffer<T> y, int tokens, IReadOnlyList<BackendBuffer<T>> targets,
        double lambda, BackendBuffer<T> dy)
    {
        Forward(y, tokens, targets);
        var b = _backend;
        long count = (long)tokens * _c.HiddenSize;
        int depth = Depth;
        b.MseBackward(_gradient, lambda, _z[depth - 1], targets[depth - 1], count);
        for (int d = depth - 1; d >= 0; d--)
        {
            TrainingBlock.Backward(_gradient, _droppedWeightGradients, _gradient, _saved[d], _blocks[d], _c, _workspace);
            if (d > 0) b.MseBackward(_gradient, lambda, _z[d - 1], targets[d - 1], count, accumulate: true);
        }
        b.Add(dy, _gradient, count);
        return lambda * SumOfLosses(tokens, targets);
    }

    private void Forward(BackendBuffer<T> y, int tokens, IReadOnlyList<BackendBuffer<T>> targets)
    {
        if (targets.Count != Depth)
            throw new ArgumentException($"{targets.Count} look-ahead targets for a chain of depth {Depth}", nameof(targets));
        for (int d = 0; d < Depth; d++)
            TrainingBlock.Forward(_z[d], _saved[d], d == 0 ? y : _z[d - 1], _blocks[d], _c, tokens);
    }

    private double SumOfLosses(int tokens, IReadOnlyList<BackendBuffer<T>> targets)
    {
        long count = (long)tokens * _c.HiddenSize;
        double sum = 0;
        for (int d = 0; d < Depth; d++) sum += _backend.MseForward(_z[d], targets[d], count);
        return sum;
    }

    private CpuBackend Cpu() => _backend as CpuBackend ?? throw new QuantNativeException(
        $"look-ahead chain: the array overloads run on the CPU, but the chain is on {_backend.Description}");

    public void Dispose()
    {
        foreach (var s in _saved) s.Dispose();
        foreach (var z in _z) z.Dispose();
        _gradient.Dispose();
        _droppedWeightGradients.Dispose();
        _workspace.Dispose();
    }
}
