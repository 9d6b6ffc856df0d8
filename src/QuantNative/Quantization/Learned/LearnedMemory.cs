using QuantNative.Backends;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Pipeline;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// The memory a learned run (omniquant, lsi, cqe+) will reach, from the config, the calibration shape and the CQE
/// options alone, so `qn quantize` can print it before any work and refuse a run that cannot fit, as it does for RTN
/// and GPTQ (<see cref="QuantizationMemory"/>). The buffers are those of <see cref="BlockwiseLearner"/>:
/// held for the whole run, the fp32 embedding, every finished block's learned u, l (the run's
/// <see cref="Lwc.ClippingParameters"/>, written beside the output at the end) and <see cref="TrainingActivations"/>
/// (X_q and X_fp of every window, at 2 bits the aug targets, the targets' forward scratch); per block (<see cref="LearnedBlock"/>) its fp32 weights
/// three times (as loaded, the training copy, the quantized linears), the host parameters (<see cref="BlockParameters"/>:
/// LWC's u, l and per-group tensors, SDE's W', factors and E), then the larger of the SVD's working set (before the
/// epochs) and what the epochs hold: the look-ahead blocks and targets of cross-layer learning, each linear's training
/// state (<see cref="TrainedLinear"/>: Ŵ, dŴ, dW', codes, gradients and AdamW moments), the block backward's saved
/// activations and workspace, and the look-ahead chain's. The attention probabilities are never held whole
/// ([heads, T, T]): the CPU backward recomputes them a tile of 256 queries at a time.
/// On a device backend the calibration activations, look-ahead targets and the epochs' buffers live on the device
/// (its own figure), while the host keeps the block's weights, the parameters and a host copy of X_q and X_fp; the
/// emulator's device memory is this process's memory, so with --device emulate the host figure includes it.
/// </summary>
public static class LearnedMemory
{
    /// <summary>The attention backward's query tile (<see cref="Cpu.CausalAttention"/>): P and dP of one tile.</summary>
    private const int AttentionTile = 256;

    public static (QuantizationMemory Host, QuantizationMemory? Device) Estimate(LlamaConfig c, QuantizerConfig q,
        int windows, int length, CqeOptions? cqe, DeviceKind device)
    {
        const long F = sizeof(float);
        bool onDevice = device != DeviceKind.Cpu;
        long hidden = c.HiddenSize, window = length * hidden, calibration = windows * window;
        long norms = 2 * hidden + BlockExtraParts.Of(c).Sum(p => p.Length(c));
        long weights = 0, groups = 0;
        foreach (var bl in BlockLinears.All)
        {
            var (rows, columns) = bl.Shape(c);
            weights += (long)rows * columns;
            groups += (long)rows * q.Layout(columns).Groups;
        }
        long blockValues = weights + norms;
        long saved = BlockActivations<float>.ValuesPerWindow(c, length);
        long workspace = length * (2 * hidden + 2L * c.QDim + 2L * c.KvDim + 2L * c.IntermediateSize);
        int depth = Math.Min(cqe?.LookAheadDepth ?? 0, c.NumLayers - 1);
        var sde = cqe?.Sde is { } mask ? Sde(c, mask) : null;

        // Held for the whole run.
        var calibrationItems = new List<(string, long)>
        {
            ($"calibration inputs and targets X_q, X_fp ({windows} × {length} tokens × 2)", 2 * calibration * F),
        };
        if (LearnedOptions.UsesAugLoss(q.Bits)) calibrationItems.Add(("aug targets (2 bits)", calibration * F));
        calibrationItems.Add(("the targets' forward scratch", (saved + window) * F));

        // The epochs' buffers on the training backend.
        var training = new List<(string, long)>
        {
            ("LWC training state (Ŵ, dŴ, dW', codes, gradients, AdamW moments)",
                (3 * weights + 10 * groups + 2 * hidden) * F + weights
                + (onDevice ? (weights + 2 * groups + norms) * F : 0)), // W, u, l and the norms uploaded
            ($"backward pass (saved activations, workspace, y/dy/dx{(onDevice ? "" : ", attention tiles")})",
                (saved + workspace + 3 * window + (onDevice
                    ? length * c.HeadDim + c.NumHeads * length // RoPE tables, the attention's delta
                    : 2L * Math.Min(AttentionTile, length) * length)) * F),
        };
        if (sde is { } s)
            training.Add(("SDE training state (dE, moments, Aᵀ, Tᵀ, mask)",
                (3 * s.Entries + 2 * s.ARows) * F + (2 * s.Entries + s.ColumnStarts) * sizeof(int)
                + (onDevice ? (weights + s.Factors + s.Entries) * F : 0))); // W, the factors and E uploaded
        if (depth > 0)
        {
            training.Add(($"look-ahead targets ({depth} × {windows} windows)", depth * calibration * F));
            training.Add(($"look-ahead chain ({depth} block{(depth == 1 ? "'s" : "s'")} activations and gradients)",
                (depth * (saved + window) + window + weights + 2 * hidden + workspace
                 + (onDevice ? depth * blockValues : 0)) * F));
        }

        // On the host in any case.
        var block = new List<(string, long)>
        {
            ("one block's weights: as loaded, training copy, quantized linears (fp32)", (2 * blockValues + weights) * F),
            ("LWC parameters u, l, per-group tensors and codes", 6 * groups * F + weights),
        };
        if (sde is { } h) block.Add(("SDE W', factors, E (host)", (weights + h.Factors + h.Entries + h.ARows) * F));
        long lookAheadBlocks = depth * blockValues * F;
        // While the look-ahead is made: the next block as loaded, and with RTN look-ahead its fp copy and codes
        // beside the dequantized one.
        long lookAheadLoading = depth == 0 ? 0
            : cqe!.LookAhead == LookAheadWeights.Rtn ? 2 * blockValues * F + weights : blockValues * F;
        if (depth > 0) block.Add(($"look-ahead blocks ({depth}, fp32)", lookAheadBlocks));

        long embedding = (long)c.VocabSize * hidden * F, clipping = c.NumLayers * 2 * groups * F;
        var host = new List<(string, long)>
        {
            ("runtime", QuantizationMemory.RuntimeBytes),
            ("token embedding (fp32)", embedding),
            ($"learned u, l of every block ({c.NumLayers})", clipping),
        };
        var deviceItems = new List<(string, long)>();
        if (onDevice)
        {
            host.Add(($"host copies of X_q, X_fp ({windows} × {length} tokens × 2)", 2 * calibration * F));
            deviceItems.AddRange(calibrationItems);
            deviceItems.AddRange(training);
        }
        else host.AddRange(calibrationItems);
        host.AddRange(block);
        long svd = sde?.WorkingSet ?? 0L;
        if (svd > 0) host.Add(("SVD working set (before the epochs)", svd));
        if (lookAheadLoading > 0) host.Add(("look-ahead loading (before the epochs)", lookAheadLoading));
        if (!onDevice) host.AddRange(training);

        long Sum(IEnumerable<(string, long)> items) => items.Sum(i => i.Item2);
        long epochs = onDevice ? 0 : Sum(training);
        long activations = onDevice ? 2 * calibration * F : Sum(calibrationItems); // on the host
        long held = QuantizationMemory.RuntimeBytes + embedding + clipping + activations + Sum(block);
        long hostPeak = held - lookAheadBlocks + Math.Max(svd, lookAheadBlocks + Math.Max(lookAheadLoading, epochs));
        long end = embedding * (c.TieWordEmbeddings ? 1 : 2);
        long atEnd = QuantizationMemory.RuntimeBytes + end + clipping + activations;
        if (atEnd > hostPeak)
        {
            host.Add(("at the end: embedding and lm_head (fp32)", end));
            hostPeak = atEnd;
        }
        QuantizationMemory? deviceMemory = null;
        if (onDevice)
        {
            deviceMemory = new QuantizationMemory(deviceItems, Sum(deviceItems), Calibrated: true);
            if (device == DeviceKind.Emulate)
            {
                host.Add(("the emulated device's buffers", deviceMemory.Peak));
                hostPeak += deviceMemory.Peak;
            }
        }
        return (new QuantizationMemory(host, hostPeak, Calibrated: true), deviceMemory);
    }

    /// <summary>SDE's sizes over the block's seven linears: the kept factors (Uᵀ, S, Vᵀ of the mask's leading
    /// directions), the mask's entries (E and each of its per-entry buffers), the Aᵀ scratch and the column starts; and
    /// the largest linear's SVD working set (<see cref="Cpu.Svd.Thin"/>: the copy sgesdd destroys, U, S, Vᵀ, the
    /// transposed U, and LAPACK's workspace, bounded by its documented minimum for JOBZ = 'S' plus a QR's R).</summary>
    private static (long Factors, long Entries, long ARows, long ColumnStarts, long WorkingSet)? Sde(LlamaConfig c, SdeMask mask)
    {
        long factors = 0, entries = 0, aRows = 0, starts = 0, working = 0;
        foreach (var bl in BlockLinears.All)
        {
            var (rows, columns) = bl.Shape(c);
            long small = Math.Min(rows, columns), large = Math.Max(rows, columns);
            var layout = mask.For((int)small, bl.Part);
            factors += (long)layout.Active * (rows + columns + 1);
            entries += layout.Count;
            aRows += (long)layout.Active * rows;
            starts += layout.Active + 1;
            long lapack = 3 * small + Math.Max(large, 4 * small * small + 4 * small) + small * small + 8 * small;
            working = Math.Max(working, ((long)rows * columns + 2 * rows * small + small + small * columns + lapack) * sizeof(float));
        }
        return (factors, entries, aRows, starts, working);
    }
}
