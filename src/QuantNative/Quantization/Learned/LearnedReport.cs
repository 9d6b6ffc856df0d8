namespace QuantNative.Quantization.Learned;

/// <summary>
/// One block's training: the training objective (MSE of the block output against the fp target T_i, plus at 2 bits
/// the aug term against B_i^fp(X_q)) averaged over all calibration windows, with the initial parameters
/// (fake-quantized, γ = β = σ(4)) and with the committed weights (fp16 scales, as stored); and the mean training loss
/// of the first and last epoch (taken while the parameters move, so noisier).
/// </summary>
public sealed record BlockLoss(int Block, double Initial, double Final, double FirstEpoch, double LastEpoch,
    double Seconds, double SecondsPerEpoch)
{
    /// <summary>The mean training loss of every epoch, in order (the curve `qn quantize --plot` and `qn ablate` draw);
    /// empty for a block trained by an earlier run that this one resumed (the work directory keeps the two ends only).</summary>
    public IReadOnlyList<double> EpochLosses { get; init; } = [];
}

/// <summary>What the OmniQuant loop reports besides the per-layer errors.</summary>
/// <param name="PeakBytes">The largest number of bytes the loop held at once for one block: the calibration
/// activations (X_q, X_fp/T, and at 2 bits the aug targets), the block's fp32 weights, its fake-quantized training
/// weights and their gradients, the LWC parameters with gradients and AdamW state, the saved activations of one
/// window and the backward's scratch. Counted from the array sizes, not measured; the quantized blocks already
/// committed (the result) come on top.</param>
/// <param name="ResumedAtBlock">The first block this run trained when it continued from a work directory.</param>
public sealed record LearnedReport(IReadOnlyList<BlockLoss> Blocks, int Epochs, double LearningRate, bool AugLoss,
    int Seed, long PeakBytes, int? ResumedAtBlock)
{
    /// <summary>The CQE+ settings of the run (SDE, cross-layer learning, initial clipping); null for plain OmniQuant.</summary>
    public Cqe.CqeOptions? Cqe { get; init; }

    /// <summary>The clipping started from the importance-weighted search (--lwc-init-search), not σ(4).</summary>
    public bool SearchInit { get; init; }

    /// <summary>Where the training steps ran ("cpu", or the backend's description).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>On a CUDA backend (a GPU or the emulator): bytes the run copied host → device and device → host (the
    /// runtime's counters), and the training steps they were spread over; null on the CPU.</summary>
    public (long ToDevice, long ToHost, long Steps)? Transfers { get; init; }
}
