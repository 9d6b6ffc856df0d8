using System.Diagnostics;
using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Formats.Gptq;
using QuantNative.Formats;
using QuantNative.Model.Quantized;
using QuantNative.Model;
using QuantNative.Quantization.Cqe;
using QuantNative.Quantization.Gptq;
using QuantNative.Training;

namespace QuantNative.Quantization.OmniQuant;

/// <summary>
/// OmniQuant's block-wise loop with learnable weight clipping (DESIGN.md §7.4), one block at a time (the training
/// epochs through <see cref="BackendBlockTraining"/>, on <see cref="OmniQuantOptions.Backend"/> or the CPU backend):
/// for block i, the targets T_i = B_i^fp(X_fp) (and at 2 bits the aug targets B_i^fp(X_q)) are computed for every
/// calibration window; then, per step (one window, windows shuffled per epoch), the fake-quantized weights are
/// rebuilt from the current u, l (<see cref="LwcLinear"/>), the block runs forward and backward
/// (<see cref="TrainingBlock"/>) on X_q, dŴ goes through the LWC backward to du, dl and AdamW (fresh per block,
/// β 0.9/0.999, eps 1e-8, weight decay 0) updates them. After the last epoch every linear is committed with its
/// learned range (<see cref="LwcLinear.Commit"/>), X_q ← B_i^q(X_q) with the committed weights, X_fp ← T_i. Norm
/// weights stay fp32 and are not trained. Held at once: one block's tensors and the calibration activations
/// (see <see cref="OmniQuantReport.PeakBytes"/>), never the whole model's fp32 blocks.
/// <para>CQE+ (<see cref="OmniQuantOptions.Cqe"/>) plugs into the same loop: with SDE each linear's LWC runs on
/// W' = W + U·(M⊙E)·Vᵀ (<see cref="SdeLinear"/>; the SVD once per block, cached in the work directory) and E is a
/// second AdamW group; with cross-layer learning the step's loss adds λ·Σ_d MSE through the next D blocks
/// (<see cref="LookAheadChain{T}"/>) against the fp trajectory's targets, whose gradient flows back into block i.
/// The clipping parameters can start from a finished run (<see cref="ClippingParameters"/>), and every run leaves
/// its own in the result for the next.</para>
/// </summary>
public static class OmniQuantizer
{
    public const string MethodName = "omniquant";

    public static QuantizationResult Run(IModelSource source, int[][]? calibration, QuantizerConfig quantizer,
        GptqCheckpointFormat format, OmniQuantOptions options, Action<long, long, string>? progress = null,
        CancellationToken cancel = default)
    {
        options.Validate();
        if (quantizer.Symmetric)
            throw new QuantNativeException("--sym: omniquant's learnable weight clipping is asymmetric (xmin = β·min(w), " +
                                           "xmax = γ·max(w)); leave --sym out");
        var clock = Stopwatch.StartNew();
        var c = source.Config;
        int d = c.HiddenSize;
        var windows = SequentialQuantizer.RequireWindows(calibration, c, MethodName);
        int n = windows.Length, length = windows[0].Length;
        int epochs = options.EpochsFor(quantizer.Bits);
        bool aug = OmniQuantOptions.UsesAugLoss(quantizer.Bits);

        var embedding = source.LoadTokenEmbedding();
        if (embedding.Length != (long)c.VocabSize * d)
            throw new QuantNativeException($"{source.Path}: token embedding has {embedding.Length} elements, expected {(long)c.VocabSize * d}");
        var cqe = options.Cqe;
        var backend = options.Backend ?? CpuBackend.Shared; // where the epochs run; everything else stays on the host
        string identity = ClippingParameters.Identity(c, embedding);
        var init = cqe?.InitFrom is { } initDir ? ClippingParameters.Load(initDir, identity, quantizer) : null;
        if (cqe?.Sde is { } sdeMask)
            foreach (var bl in BlockLinears.All)
            {
                var (rows, columns) = bl.Shape(c);
                sdeMask.For(Math.Min(rows, columns), bl.Part); // refuses block:k beyond a layer's rank before any work
            }
        var clipping = new ClippingParameters(identity, quantizer);

        var blocks = new QuantizedBlock[c.NumLayers];
        var reports = new List<LayerReport>();
        var losses = new List<BlockLoss>();
        float[][] xq, xfp;
        int first = 0;
        var state = options.WorkDirectory == null
            ? null
            : new OmniQuantWorkDirectory(options.WorkDirectory,
                OmniQuantWorkDirectory.Fingerprint(source, embedding, windows, quantizer, format, options, epochs));
        var resumed = state?.TryLoad(c, quantizer, format);
        if (resumed != null)
        {
            first = resumed.NextBlock;
            (xq, xfp) = (resumed.Xq, resumed.Xfp);
            for (int i = 0; i < first; i++) blocks[i] = resumed.Blocks[i];
            reports.AddRange(resumed.Layers);
            losses.AddRange(resumed.Losses);
            for (int i = 0; i < first; i++) state!.LoadClipping(i, clipping);
        }
        else
        {
            xq = Embed(embedding, windows, d);
            xfp = xq.Select(x => (float[])x.Clone()).ToArray();
        }
        float[][]? augTargets = aug ? xq.Select(x => new float[x.Length]).ToArray() : null;

        var rope = new Rope(c.HeadDim, length, c.RopeTheta);
        var saved = new BlockActivations<float>(c, length);
        var y = new float[(long)length * d];
        long blockValues = BlockValues(c);
        long baseBytes = 4L * (xq.Length + xfp.Length + (augTargets?.Length ?? 0)) * xq[0].LongLength
                    + 4L * BlockActivations<float>.ValuesPerWindow(c, length)
                    + 4L * (4L * length * d + 2L * length * c.KvDim + 2L * length * c.IntermediateSize) // workspace
                    + 4L * 3 * y.LongLength
                    + 4L * 3 * blockValues; // fp weights, fake-quantized weights, their gradients
        long peak = baseBytes;
        long totalSteps = (long)c.NumLayers * epochs * n, done = (long)first * epochs * n;

        for (int layer = first; layer < c.NumLayers; layer++)
        {
            cancel.ThrowIfCancellationRequested();
            var blockClock = Stopwatch.StartNew();
            var w = source.LoadBlock(layer);
            w.Validate(c, layer, source.Path);
            var fp = BlockTensors<float>.From(w);
            progress?.Invoke(done, totalSteps, $"block {layer} targets");

            // T_i = B_i^fp(X_fp), in place: X_fp is not needed again, and becomes T_i for the next block.
            foreach (var x in xfp) TrainingBlock.Forward(x, saved, x, fp, c, rope, length);
            if (augTargets != null)
                for (int k = 0; k < n; k++) TrainingBlock.Forward(augTargets[k], saved, xq[k], fp, c, rope, length);
            var targets = xfp;

            var qw = new BlockTensors<float>
            {
                AttnNorm = fp.AttnNorm, FfnNorm = fp.FfnNorm,
                Wq = new float[fp.Wq.Length], Wk = new float[fp.Wk.Length], Wv = new float[fp.Wv.Length],
                Wo = new float[fp.Wo.Length], WGate = new float[fp.WGate.Length], WUp = new float[fp.WUp.Length],
                WDown = new float[fp.WDown.Length],
            };
            var fpLinears = fp.Linears().Select(t => t.Tensor).ToArray();
            var qLinears = qw.Linears().Select(t => t.Tensor).ToArray();
            var parameters = new BlockParameters(layer, c, fpLinears, quantizer, options, init, state);
            var ahead = cqe != null ? LookAheadTargets.Create(source, layer, cqe, quantizer, targets, saved, rope, length) : null;
            peak = Math.Max(peak, baseBytes + parameters.Bytes + (ahead?.Bytes ?? 0));

            parameters.Rebuild(qLinears);
            double initial = 0;
            foreach (var (x, k) in xq.Select((x, k) => (x, k)))
            {
                TrainingBlock.Forward(y, saved, x, qw, c, rope, length);
                initial += Objective(y, targets[k], augTargets?[k]) / n;
            }

            // The epochs, on the backend (on the CPU backend they train the parameters' own arrays in place).
            var epochClock = Stopwatch.StartNew();
            var (firstEpoch, lastEpoch) = BackendBlockTraining.Train(backend, c, length, fp, parameters, ahead,
                cqe?.LookAheadWeight ?? 0, xq, targets, augTargets, epochs, options.Seed, layer,
                (epoch, step, mean) => progress?.Invoke(++done, totalSteps,
                    $"block {layer + 1}/{c.NumLayers} epoch {epoch + 1}/{epochs} loss {mean:G4}"), cancel);
            double secondsPerEpoch = epochs > 0 ? epochClock.Elapsed.TotalSeconds / epochs : 0;

            // Commit: the stored matrices, then X_q ← B_i^q(X_q) through exactly the weights a runtime dequantizes.
            parameters.PrepareCommit();
            var lwc = parameters.Lwc;
            var linears = new Dictionary<string, QuantizedMatrix>();
            for (int i = 0; i < lwc.Length; i++)
            {
                clipping.Add(lwc[i].Name, lwc[i].U.Value, lwc[i].L.Value);
                var commitClock = Stopwatch.StartNew();
                var matrix = lwc[i].Commit(quantizer);
                int clampedGroups = 0, clippedCodes = 0;
                if (format == GptqCheckpointFormat.V1 && matrix.Zeros.Contains(0))
                {
                    var clamped = V1Zeros.ClampToOne(matrix, lwc[i].Name);
                    (matrix, clampedGroups, clippedCodes) = (clamped.Matrix, clamped.ClampedGroups, clamped.ClippedCodes);
                }
                matrix.DequantizeInto(qLinears[i]);
                linears[BlockLinears.All[i].Part] = matrix;
                reports.Add(new LayerReport(lwc[i].Name, matrix.Rows, matrix.Columns,
                    GptqQuantizer.RelativeError(fpLinears[i], qLinears[i]), commitClock.Elapsed.TotalSeconds, clampedGroups,
                    clippedCodes, 0, quantizer.Layout(matrix.Columns).Note));
            }
            blocks[layer] = new QuantizedBlock { AttnNorm = w.AttnNorm, FfnNorm = w.FfnNorm, Linears = linears };
            double final = 0;
            for (int k = 0; k < n; k++)
            {
                TrainingBlock.Forward(xq[k], saved, xq[k], qw, c, rope, length);
                final += Objective(xq[k], targets[k], augTargets?[k]) / n;
            }
            losses.Add(new BlockLoss(layer, initial, final, firstEpoch, lastEpoch, blockClock.Elapsed.TotalSeconds,
                secondsPerEpoch));
            progress?.Invoke(done, totalSteps, $"block {layer + 1}/{c.NumLayers} committed, loss {initial:G4} → {final:G4}");

            state?.SaveClipping(layer, lwc);
            state?.Save(layer + 1, blocks, reports, losses, xq, xfp);
            if (options.StopAfterBlock == layer) throw new OmniQuantStoppedException(layer);
        }

        var finalNorm = source.LoadFinalNorm();
        float[]? output = c.TieWordEmbeddings ? null : source.LoadOutput();
        var model = new QuantizedModel
        {
            Config = c, Quantizer = quantizer, Method = options.MethodName, Format = format,
            TokenEmbedding = embedding, Blocks = blocks, FinalNorm = finalNorm, Output = output,
            SourceDTypes = SequentialQuantizer.SourceDTypes(source),
        };
        return new QuantizationResult
        {
            Model = model, Clipping = clipping, Layers = reports, Seconds = clock.Elapsed.TotalSeconds,
            OmniQuant = new OmniQuantReport(losses, epochs, options.LearningRate, aug, options.Seed, peak,
                resumed != null ? first : null) { Cqe = cqe, Device = options.Backend?.Description ?? "cpu" },
        };
    }

    /// <summary>The seed of block <paramref name="block"/>'s window order in epoch <paramref name="epoch"/>: a fixed
    /// arithmetic mix (not HashCode, which is randomized per process), so a resumed run shuffles exactly as an
    /// uninterrupted one and no generator state has to be saved.</summary>
    public static int ShuffleSeed(int seed, int block, int epoch) =>
        unchecked(seed * 1_000_003 + block * 10_007 + epoch * 101 + 17);

    /// <summary>The training objective of one window without its gradient: MSE against the target, plus at 2 bits
    /// the MSE against the aug target.</summary>
    private static double Objective(float[] y, float[] target, float[]? aug) =>
        Mse(y, target, null, false) + (aug != null ? Mse(y, aug, null, false) : 0);

    /// <summary>Mean squared error over all elements; when <paramref name="dy"/> is given, its gradient 2(y − t)/N is
    /// written to it, or added when <paramref name="accumulate"/>. Summed in double.</summary>
    internal static double Mse(float[] y, float[] target, float[]? dy, bool accumulate)
    {
        int count = y.Length;
        float scale = 2f / count;
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            float e = y[i] - target[i];
            sum += (double)e * e;
            if (dy != null) dy[i] = accumulate ? dy[i] + scale * e : scale * e;
        }
        return sum / count;
    }

    private static float[][] Embed(float[] embedding, int[][] windows, int d) =>
        windows.Select(window =>
        {
            var x = new float[(long)window.Length * d];
            for (int t = 0; t < window.Length; t++) embedding.AsSpan(window[t] * d, d).CopyTo(x.AsSpan(t * d, d));
            return x;
        }).ToArray();

    private static long BlockValues(LlamaConfig c)
    {
        long d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize;
        return 2 * d + 2 * d * d + 2 * kv * d + 3 * f * d;
    }
}
