using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Training;
using static QuantNative.Backends.HostArrays;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// The training epochs of one OmniQuant / CQE+ block (DESIGN.md §7.4, §7.6, §7.7) on an <see cref="IBackend"/> — the
/// only implementation of them: the CPU path runs it on <see cref="CpuBackend"/> over the host arrays (no copies),
/// a device path with every tensor in the device's buffers. Per step (windows in the seeded per-epoch order):
/// Ŵ of every linear rebuilt from its parameters (<see cref="TrainedLinear.Forward"/>: W' composed first with SDE),
/// the block forward on X_q, MSE against the target (plus the aug target at 2 bits, plus λ·MSE through the frozen
/// look-ahead blocks with cross-layer learning), the block backward, then per linear the LWC backward to du, dl
/// (and dW' to dE) and AdamW (β 0.9/0.999, eps 1e-8, weight decay 0, fresh per block; u, l at the clipping
/// learning rate, E at SDE's). Windows and targets are already on the backend (<see cref="TrainingActivations"/>,
/// <see cref="Cqe.LookAheadTargets"/>): no step copies activations; the learned parameters end in the parameters'
/// host arrays, ready for <see cref="BlockParameters.PrepareCommit"/>.
/// </summary>
public static class BackendBlockTraining
{
    /// <summary>AdamW's settings for every trained parameter (OmniQuant's).</summary>
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8, WeightDecay = 0;

    /// <summary>The seed of block <paramref name="block"/>'s window order in epoch <paramref name="epoch"/>: a fixed
    /// arithmetic mix (not HashCode, which is randomized per process), so a resumed run shuffles exactly as an
    /// uninterrupted one and no generator state has to be saved.</summary>
    public static int ShuffleSeed(int seed, int block, int epoch) =>
        unchecked(seed * 1_000_003 + block * 10_007 + epoch * 101 + 17);

    /// <summary>
    /// Trains <paramref name="parameters"/> for <paramref name="epochs"/> epochs; returns the mean objective of the
    /// first and the last epoch (NaN without epochs). <paramref name="norms"/> supplies the fp32 norm weights and the
    /// extras (biases, q/k norms);
    /// <paramref name="ahead"/> (null: no cross-layer learning) the look-ahead blocks and targets, weighted by
    /// <paramref name="lookAheadWeight"/>; <paramref name="onStep"/> gets (epoch, step, running mean of the epoch's
    /// objective) after each step.
    /// </summary>
    public static (double FirstEpoch, double LastEpoch) Train(IBackend backend, LlamaConfig c, int length,
        BlockTensors<float> norms, BlockParameters parameters, LookAheadTargets? ahead, double lookAheadWeight,
        IReadOnlyList<BackendBuffer<float>> xq, IReadOnlyList<BackendBuffer<float>> targets,
        IReadOnlyList<BackendBuffer<float>>? augTargets, int epochs, int seed, int layer,
        Action<int, int, double>? onStep = null, CancellationToken cancel = default)
    {
        if (epochs == 0) return (double.NaN, double.NaN);
        int n = xq.Count;
        long td = (long)length * c.HiddenSize;
        var owned = new List<IDisposable>();
        T Own<T>(T d) where T : IDisposable
        {
            owned.Add(d);
            return d;
        }
        BackendBuffer<float> A() => Own(backend.Allocate<float>(td));
        try
        {
            var linears = parameters.Lwc.Select((l, i) => Own(new TrainedLinear(backend, l, parameters.Sde?[i]))).ToArray();
            TrainedLinear Part(string part) => linears[BlockLinears.IndexOf(part)];
            var weights = BlockBuffers<float>.Of(Own(Bind(backend, norms.AttnNorm)), Own(Bind(backend, norms.FfnNorm)),
                part => Part(part).FakeQuantized, norms.Extras.Map(e => Own(Bind(backend, e))));
            var grads = BlockBuffers<float>.Of(Own(backend.Allocate<float>(c.HiddenSize)),
                Own(backend.Allocate<float>(c.HiddenSize)), part => Part(part).DFakeQuantized);
            var saved = Own(new BlockActivations<float>(backend, c, length));
            var workspace = Own(new BlockGradientWorkspace<float>(backend, c, length));
            BackendBuffer<float> y = A(), dy = A(), dx = A();
            var chain = ahead != null
                ? Own(new LookAheadChain<float>(backend, c, ahead.Blocks.Select(w => Own(BlockBuffers<float>.Bind(backend, w))).ToArray(), length))
                : null;

            double firstEpoch = double.NaN, lastEpoch = double.NaN;
            long step = 0;
            var order = Enumerable.Range(0, n).ToArray();
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                var shuffled = (int[])order.Clone();
                new Random(ShuffleSeed(seed, layer, epoch)).Shuffle(shuffled);
                double sum = 0;
                for (int s = 0; s < n; s++)
                {
                    cancel.ThrowIfCancellationRequested();
                    int k = shuffled[s];
                    foreach (var l in linears) l.Forward(backend);
                    var (x, target) = (xq[k], targets[k]);
                    TrainingBlock.Forward(y, saved, x, weights, c, length);
                    double loss = backend.MseForward(y, target, td);
                    backend.MseBackward(dy, 1.0, y, target, td);
                    if (augTargets != null)
                    {
                        var aug = augTargets[k];
                        loss += backend.MseForward(y, aug, td);
                        backend.MseBackward(dy, 1.0, y, aug, td, accumulate: true);
                    }
                    if (chain != null)
                    {
                        loss += chain.ForwardBackward(y, length, ahead!.For(k), lookAheadWeight, dy);
                    }
                    TrainingBlock.Backward(dx, grads, dy, saved, weights, c, workspace);
                    step++;
                    var clip = AdamWStepScalars.Create(parameters.ClipLearningRate, WeightDecay, Beta1, Beta2, Epsilon, step);
                    var sde = AdamWStepScalars.Create(parameters.SdeLearningRate, WeightDecay, Beta1, Beta2, Epsilon, step);
                    foreach (var l in linears) l.BackwardAndStep(backend, clip, sde);
                    sum += loss;
                    onStep?.Invoke(epoch, s, sum / (s + 1));
                }
                if (epoch == 0) firstEpoch = sum / n;
                lastEpoch = sum / n;
            }
            foreach (var l in linears) l.Download();
            return (firstEpoch, lastEpoch);
        }
        finally
        {
            foreach (var d in owned) d.Dispose();
        }
    }
}
