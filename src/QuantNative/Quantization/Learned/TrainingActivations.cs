using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// The calibration activations of block-wise learned quantization (DESIGN.md §7.4), one array [L, hidden] per window:
/// X_q (the output of the already-quantized blocks: the training input), X_fp (the full-precision trajectory, which
/// becomes the targets T_i in place), at 2 bits the aug targets B_i^fp(X_q), and the scratch of the host block
/// forward that computes them.
/// </summary>
public sealed class TrainingActivations : IDisposable
{
    private readonly LlamaConfig _c;

    public TrainingActivations(LlamaConfig c, float[][] xq, float[][] xfp, bool aug)
    {
        _c = c;
        Xq = xq;
        Xfp = xfp;
        Length = xq[0].Length / c.HiddenSize;
        Aug = aug ? xq.Select(x => new float[x.Length]).ToArray() : null;
        Rope = new Rope(c.HeadDim, Length, c.RopeTheta);
        using var meter = BufferMeter.Start();
        Saved = new BlockActivations<float>(c, Length);
        Y = new float[(long)Length * c.HiddenSize];
        Bytes = meter.Bytes + BufferMeter.HostBytes([.. Xq, .. Xfp, .. Aug ?? [], Y]);
    }

    public float[][] Xq { get; }
    public float[][] Xfp { get; }
    public float[][]? Aug { get; }
    public int Length { get; }
    public Rope Rope { get; }
    public BlockActivations<float> Saved { get; }
    public float[] Y { get; }
    public int Windows => Xq.Length;

    /// <summary>Bytes held: the activations of every window, the forward's saved tensors and output.</summary>
    public long Bytes { get; }

    /// <summary>T_i = B_i^fp(X_fp), in place: X_fp is not needed again and becomes T_i, the next block's X_fp; at 2 bits
    /// also the aug targets B_i^fp(X_q). Returns T_i.</summary>
    public float[][] ComputeTargets(BlockTensors<float> fp)
    {
        foreach (var x in Xfp) TrainingBlock.Forward(x, Saved, x, fp, _c, Rope, Length);
        if (Aug != null)
            for (int k = 0; k < Windows; k++) TrainingBlock.Forward(Aug[k], Saved, Xq[k], fp, _c, Rope, Length);
        return Xfp;
    }

    /// <summary>The training objective over all windows of the block with <paramref name="weights"/>, without
    /// touching X_q.</summary>
    public double Objective(BlockTensors<float> weights)
    {
        double sum = 0;
        for (int k = 0; k < Windows; k++)
        {
            TrainingBlock.Forward(Y, Saved, Xq[k], weights, _c, Rope, Length);
            sum += Objective(Y, k) / Windows;
        }
        return sum;
    }

    /// <summary>X_q ← B_i^q(X_q) through the committed weights; returns the objective of the result.</summary>
    public double Propagate(BlockTensors<float> committed)
    {
        double sum = 0;
        for (int k = 0; k < Windows; k++)
        {
            TrainingBlock.Forward(Xq[k], Saved, Xq[k], committed, _c, Rope, Length);
            sum += Objective(Xq[k], k) / Windows;
        }
        return sum;
    }

    /// <summary>One window's objective without its gradient: MSE against the target T_i (= X_fp after
    /// <see cref="ComputeTargets"/>), plus at 2 bits the MSE against the aug target.</summary>
    private double Objective(float[] y, int window) =>
        MseLoss.Forward(y, Xfp[window], y.LongLength) + (Aug != null ? MseLoss.Forward(y, Aug[window], y.LongLength) : 0);

    public void Dispose() => Saved.Dispose();
}
