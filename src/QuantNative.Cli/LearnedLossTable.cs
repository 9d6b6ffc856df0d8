using QuantNative.Quantization.Learned;

namespace QuantNative.Cli;

/// <summary>The OmniQuant part of the `qn quantize` summary: settings, per-block losses and times, memory held.</summary>
public static class LearnedLossTable
{
    public static void Write(TextWriter o, LearnedReport r)
    {
        o.WriteLine($"omniquant      LWC, {r.Epochs} epochs per block, AdamW lr {r.LearningRate:G4} (β 0.9/0.999, eps 1e-8, " +
                    $"wd 0), 1 window per step, shuffle seed {r.Seed}{(r.AugLoss ? ", aug loss (2 bits)" : "")}" +
                    (r.SearchInit ? "; clipping started from the importance-weighted search" : "") +
                    (r.ResumedAtBlock is int b ? $"; resumed at block {b}" : "") + $"; training steps on {r.Device}");
        if (r.Cqe is { } cqe)
            o.WriteLine($"cqe+           {cqe.Describe()}" + (cqe.LookAheadDepth > 0
                ? $" (the look-ahead holds {cqe.LookAheadDepth} more block(s) with their activations and {cqe.LookAheadDepth} " +
                  "more target buffer(s) of every window; included in the peak below)"
                : ""));
        if (r.Transfers is { Steps: > 0 } x)
            o.WriteLine($"transfers      {x.ToDevice / 1048576.0:F2} MiB to the device, {x.ToHost / 1048576.0:F2} MiB back, over " +
                        $"{x.Steps} training steps: {x.ToDevice / (double)x.Steps / 1024:F1} KiB uploaded per step");
        o.WriteLine($"memory         {r.PeakBytes / 1048576.0:F2} MiB peak held by the loop (calibration activations, one " +
                    "block's weights, fake-quantized weights, gradients, LWC parameters and AdamW state, one window's saved " +
                    "activations" + (r.Cqe?.Sde != null ? ", SVD factors, E and W'" : "") +
                    (r.Cqe?.LookAheadDepth > 0 ? ", the look-ahead blocks and targets" : "") +
                    "; counted from array sizes, committed blocks not included)");
        o.WriteLine();
        o.WriteLine("block  initial MSE    final MSE  first-epoch  last-epoch   s/epoch   block s");
        foreach (var l in r.Blocks)
            o.WriteLine($"{l.Block,5}  {l.Initial,11:G5}  {l.Final,11:G5}  {l.FirstEpoch,11:G5}  {l.LastEpoch,10:G5}  " +
                        $"{l.SecondsPerEpoch,8:F3}  {l.Seconds,8:F2}");
        o.WriteLine("(the block's own objective, MSE of the block output vs the fp target" + (r.AugLoss ? " plus the aug term" : "") +
                    ", over all windows: initial with the starting clipping parameters (γ = β = σ(4) unless --init-from or --lwc-init-search), fake-quantized; final with the committed weights; " +
                    "epoch columns: mean training loss" + (r.Cqe?.LookAheadDepth > 0 ? " including the λ-weighted look-ahead terms" : "") +
                    "; times of resumed blocks are those of the run that trained them)");
        o.WriteLine();
    }
}
