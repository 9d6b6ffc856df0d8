using QuantNative.Backends;
using QuantNative.Model;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Training;
using static QuantNative.Backends.HostArrays;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// The calibration activations of block-wise learned quantization (DESIGN.md §7.4), one buffer [L, hidden] per
/// window, kept on the training backend for the whole run: X_q (the output of the already-quantized blocks: the
/// training input), X_fp (the full-precision trajectory, which becomes the targets T_i in place), at 2 bits the aug
/// targets B_i^fp(X_q), and the scratch of the block forward that computes them. Targets, the objective and the
/// propagation run there too, so a device backend uploads the windows once and downloads X_q and X_fp only when the
/// work directory saves them. On the CPU backend the buffers are the host arrays themselves.
/// </summary>
public sealed class TrainingActivations : IDisposable
{
    private readonly IBackend _backend;
    private readonly LlamaConfig _c;
    private readonly long _values;

    public TrainingActivations(IBackend backend, LlamaConfig c, float[][] xq, float[][] xfp, bool aug)
    {
        (_backend, _c) = (backend, c);
        (HostXq, HostXfp) = (xq, xfp);
        _values = xq[0].LongLength;
        Length = (int)(_values / c.HiddenSize);
        using var meter = BufferMeter.Start();
        Xq = xq.Select(x => Bind(backend, x)).ToArray();
        Xfp = xfp.Select(x => Bind(backend, x)).ToArray();
        var augmented = aug ? xq.Select(_ => New<float>(backend, _values)).ToArray() : null;
        Aug = augmented?.Select(a => a.Buffer).ToArray();
        Saved = new BlockActivations<float>(backend, c, Length);
        Y = backend.Allocate<float>(_values);
        Bytes = meter.Bytes + BufferMeter.HostBytes([.. xq, .. xfp, .. augmented?.Select(a => a.Host) ?? []]);
    }

    /// <summary>X_q and X_fp as the work directory saves them (on a device: filled by <see cref="Download"/>).</summary>
    public float[][] HostXq { get; }
    public float[][] HostXfp { get; private set; }

    public BackendBuffer<float>[] Xq { get; }
    public BackendBuffer<float>[] Xfp { get; private set; }
    public BackendBuffer<float>[]? Aug { get; }
    public int Length { get; }
    public BlockActivations<float> Saved { get; }
    public BackendBuffer<float> Y { get; }
    public int Windows => Xq.Length;

    /// <summary>Bytes held: the activations of every window (host and backend), the forward's saved tensors and output.</summary>
    public long Bytes { get; }

    /// <summary>T_i = B_i^fp(X_fp) in place: X_fp is not needed again and becomes T_i, the next block's X_fp — or, when
    /// the previous block's look-ahead already computed T_i from the same X_fp (<paramref name="computed"/>), those
    /// buffers instead of a second forward. At 2 bits also the aug targets B_i^fp(X_q). Returns T_i.</summary>
    public BackendBuffer<float>[] ComputeTargets(BlockBuffers<float> fp, LookAheadTargetsHandOver? computed)
    {
        if (computed is { } next)
        {
            if (_backend is not CpuBackend) foreach (var x in Xfp) x.Dispose();
            Xfp = next.Buffers;
            HostXfp = next.Host ?? HostXfp;
        }
        else
            foreach (var x in Xfp) TrainingBlock.Forward(x, Saved, x, fp, _c, Length);
        if (Aug != null)
            for (int k = 0; k < Windows; k++) TrainingBlock.Forward(Aug[k], Saved, Xq[k], fp, _c, Length);
        return Xfp;
    }

    /// <summary>The training objective over all windows of the block with <paramref name="weights"/>, X_q unchanged.</summary>
    public double Objective(BlockBuffers<float> weights)
    {
        double sum = 0;
        for (int k = 0; k < Windows; k++)
        {
            TrainingBlock.Forward(Y, Saved, Xq[k], weights, _c, Length);
            sum += Objective(Y, k) / Windows;
        }
        return sum;
    }

    /// <summary>X_q ← B_i^q(X_q) through the committed weights; returns the objective of the result.</summary>
    public double Propagate(BlockBuffers<float> committed)
    {
        double sum = 0;
        for (int k = 0; k < Windows; k++)
        {
            TrainingBlock.Forward(Xq[k], Saved, Xq[k], committed, _c, Length);
            sum += Objective(Xq[k], k) / Windows;
        }
        return sum;
    }

    /// <summary>X_q and X_fp into <see cref="HostXq"/> and <see cref="HostXfp"/> (nothing to do on the CPU).</summary>
    public void Download()
    {
        for (int k = 0; k < Windows; k++)
        {
            Return(Xq[k], HostXq[k]);
            Return(Xfp[k], HostXfp[k]);
        }
    }

    /// <summary>One window's objective without its gradient: MSE against the target T_i (= X_fp after
    /// <see cref="ComputeTargets"/>), plus at 2 bits the MSE against the aug target.</summary>
    private double Objective(BackendBuffer<float> y, int window) =>
        _backend.MseForward(y, Xfp[window], _values) + (Aug != null ? _backend.MseForward(y, Aug[window], _values) : 0);

    public void Dispose()
    {
        foreach (var b in Xq.Concat(Xfp).Concat(Aug ?? [])) b.Dispose();
        Saved.Dispose();
        Y.Dispose();
    }
}
