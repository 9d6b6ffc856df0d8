using System.Diagnostics;
using QuantNative.Backends;
using QuantNative.Model;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Pipeline;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// One block of block-wise learned quantization, in pipeline order. Targets: T_i = B_i^fp(X_fp) (and at 2 bits the
/// aug targets B_i^fp(X_q)). Learn: the parameters (<see cref="BlockParameters"/>: LWC's u, l, with SDE E over the SVD
/// of each fp weight, with cross-layer learning the look-ahead blocks and their targets), the objective with the
/// initial parameters, the epochs on the backend (<see cref="BackendBlockTraining"/>), then every linear committed
/// with its learned range. Propagate: X_q ← B_i^q(X_q) through the committed weights (the objective after), X_fp
/// already is T_i. Save: the clipping parameters and the work directory's state.
/// </summary>
internal sealed class LearnedBlock : IBlockLearning
{
    private readonly BlockwiseLearner _run;
    private readonly int _layer;
    private readonly LlamaBlockWeights _block;
    private readonly BlockTensors<float> _fp, _quantized;
    private readonly BackendBuffer<float>[] _targets;
    private readonly float[][] _fpLinears, _quantizedLinears;
    private LookAheadTargets? _ahead;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double _initial, _firstEpoch, _lastEpoch, _secondsPerEpoch;
    private double[] _epochLosses = [];
    private BlockParameters? _parameters;

    public LearnedBlock(BlockwiseLearner run, int layer, LlamaBlockWeights block)
    {
        (_run, _layer, _block) = (run, layer, block);
        _fp = BlockTensors<float>.From(block);
        Progress($"block {layer} targets");
        using (var fp = BlockBuffers<float>.Bind(run.Backend, _fp))
            _targets = run.Activations.ComputeTargets(fp, run.TakeHandedOverTargets());
        _quantized = new BlockTensors<float>
        {
            AttnNorm = _fp.AttnNorm, FfnNorm = _fp.FfnNorm, Extras = _fp.Extras,
            Wq = new float[_fp.Wq.Length], Wk = new float[_fp.Wk.Length], Wv = new float[_fp.Wv.Length],
            Wo = new float[_fp.Wo.Length], WGate = new float[_fp.WGate.Length], WUp = new float[_fp.WUp.Length],
            WDown = new float[_fp.WDown.Length],
        };
        (_fpLinears, _quantizedLinears) = (Linears(_fp), Linears(_quantized));
    }

    public void Learn(BlockCommitter committer)
    {
        var run = _run;
        var c = committer.Config;
        var acts = run.Activations;
        var parameters = _parameters = new BlockParameters(_layer, c, _fpLinears, run.Quantizer, run.Options, run.Init, run.State);
        using var meter = BufferMeter.Start();
        if (run.Options.SearchInit) SearchClipping(parameters, c);
        var ahead = _ahead = run.Options.Cqe is { } cqe
            ? LookAheadTargets.Create(run.Start.Source, _layer, cqe, run.Quantizer, _targets, acts.Saved, acts.Length)
            : null;
        parameters.Rebuild(_quantizedLinears);
        using (var initial = BlockBuffers<float>.Bind(run.Backend, _quantized)) _initial = acts.Objective(initial);

        var epochClock = Stopwatch.StartNew();
        var epochLosses = _epochLosses = new double[run.Epochs];
        (_firstEpoch, _lastEpoch) = BackendBlockTraining.Train(run.Backend, c, acts.Length, _fp, parameters, ahead,
            run.Options.Cqe?.LookAheadWeight ?? 0, acts.Xq, _targets, acts.Aug, run.Epochs, run.Options.Seed, _layer,
            (epoch, _, mean) =>
            {
                epochLosses[epoch] = mean; // the running mean: at the epoch's last step, the epoch's mean
                Progress($"block {_layer + 1}/{c.NumLayers} epoch {epoch + 1}/{run.Epochs} loss {mean:G4}", 1);
            },
            run.Start.Cancel);
        _secondsPerEpoch = run.Epochs > 0 ? epochClock.Elapsed.TotalSeconds / run.Epochs : 0;
        run.PeakBytes = Math.Max(run.PeakBytes, acts.Bytes + meter.Bytes + parameters.Bytes + (ahead?.Bytes ?? 0) +
                                                BufferMeter.HostBytes([.. _fpLinears, .. _quantizedLinears]));
        Commit(committer, parameters);
    }

    /// <summary>--lwc-init-search: each linear's starting clipping from the importance-weighted search, the importance
    /// being its inputs' Σx² per column over the windows X_q through the block's fp weights (one forward each).</summary>
    private void SearchClipping(BlockParameters parameters, LlamaConfig c)
    {
        Progress($"block {_layer} clipping search");
        Dictionary<string, float[]> energy;
        using (var fp = BlockBuffers<float>.Bind(_run.Backend, _fp)) energy = InputEnergy.Of(_run.Activations, fp, c);
        for (int i = 0; i < BlockLinears.All.Length; i++)
            Lwc.ClippingSearch.Initialize(parameters.Lwc[i], energy[BlockLinears.All[i].Part]);
    }

    /// <summary>Every linear's stored matrix from its learned range (W' with SDE), dequantized into the block's
    /// training weights, which the propagation then runs on.</summary>
    private void Commit(BlockCommitter committer, BlockParameters parameters)
    {
        parameters.PrepareCommit();
        for (int i = 0; i < BlockLinears.All.Length; i++)
        {
            var lwc = parameters.Lwc[i];
            _run.Clipping.Add(lwc.Name, lwc.U.Value, lwc.L.Value);
            if (_run.Options.KeepLearnedWeights)
            {
                var (min, max) = lwc.ClipRanges();
                committer.AddLearned(BlockLinears.All[i].Part, new Formats.Gguf.LearnedLinear((float[])lwc.Weights.Clone(), min, max));
            }
            committer.Commit(_layer, BlockLinears.All[i], () => (lwc.Commit(_run.Quantizer), 0), _fpLinears[i],
                _quantizedLinears[i]);
        }
        if (_run.Options.KeepLearnedWeights)
        {
            // The K-quant fit weights each column by the energy of its inputs through the committed block (one more
            // forward of the windows, against the epochs' forward and backward of each).
            Progress($"block {_layer} input energy");
            using var committed = BlockBuffers<float>.Bind(_run.Backend, _quantized);
            foreach (var (part, energy) in InputEnergy.Of(_run.Activations, committed, committer.Config))
                committer.AddImportance(part, energy);
        }
    }

    public void Propagate()
    {
        double final;
        using (var committed = BlockBuffers<float>.Bind(_run.Backend, _quantized)) final = _run.Activations.Propagate(committed);
        if (_ahead != null)
        {
            _run.HandOverTargets(_ahead.HandOver()); // T_{i+1}: block i+1's targets, already computed
            _ahead.Dispose();
        }
        _run.AddLoss(new BlockLoss(_layer, _initial, final, _firstEpoch, _lastEpoch, _clock.Elapsed.TotalSeconds,
            _secondsPerEpoch) { EpochLosses = _epochLosses });
        Progress($"block {_layer + 1}/{_run.Start.Source.Config.NumLayers} committed, loss {_initial:G4} → {final:G4}");
    }

    public void Save(BlockCommitter committer)
    {
        var acts = _run.Activations;
        if (_run.State is { } state)
        {
            acts.Download();
            state.SaveClipping(_layer, _parameters!.Lwc);
            state.Save(_layer + 1, committer.Blocks, committer.Reports, _run.Losses, acts.HostXq, acts.HostXfp);
        }
        if (_run.Options.StopAfterBlock == _layer) throw new LearnedRunStoppedException(_layer);
    }

    /// <summary>The seven linear tensors by name, in <see cref="BlockLinears.All"/> order.</summary>
    private static float[][] Linears(BlockTensors<float> t) =>
        BlockLinears.All.Select(bl => t.Linear(bl.Part)).ToArray();

    private void Progress(string what, long steps = 0)
    {
        _run.DoneSteps += steps;
        _run.Start.Progress?.Invoke(_run.DoneSteps, _run.TotalSteps, what);
    }
}
