using QuantNative.Backends;
using QuantNative.Model;
using QuantNative.Quantization.Lwc;
using QuantNative.Training;

namespace QuantNative.Quantization.OmniQuant;

/// <summary>
/// The training epochs of one OmniQuant block (DESIGN.md §7.4) on an <see cref="IBackend"/>: the same steps as
/// <see cref="OmniQuantizer"/>'s CPU loop — per step (windows in the seeded per-epoch order) Ŵ rebuilt from u, l by
/// the LWC forward, the block forward on X_q, MSE against the target (plus the aug target at 2 bits), the block
/// backward, the LWC backward to du, dl, and AdamW (β 0.9/0.999, eps 1e-8, weight decay 0, fresh per block) —
/// with every tensor in the backend's buffers. Windows and targets are uploaded per step (one window each);
/// the learned u, l are downloaded into the <see cref="LwcLinear"/>s at the end, ready for
/// <see cref="LwcLinear.Commit"/>.
/// </summary>
public static class BackendBlockTraining
{
    /// <summary>AdamW's settings for the LWC parameters (OmniQuant's).</summary>
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8, WeightDecay = 0;

    /// <summary>
    /// Trains <paramref name="lwc"/> (the block's seven linears in <see cref="BlockTensors{T}.Linears"/> order) for
    /// <paramref name="epochs"/> epochs; returns the mean objective of the first and the last epoch (NaN without
    /// epochs). <paramref name="norms"/> supplies the fp32 norm weights; <paramref name="onStep"/> gets (epoch, step,
    /// running mean of the epoch's objective) after each step.
    /// </summary>
    public static (double FirstEpoch, double LastEpoch) Train(IBackend backend, LlamaConfig c, int length,
        BlockTensors<float> norms, IReadOnlyList<LwcLinear> lwc, float[][] xq, float[][] targets, float[][]? augTargets,
        int epochs, double learningRate, int seed, int layer, Action<int, int, double>? onStep = null,
        CancellationToken cancel = default)
    {
        int n = xq.Length;
        long td = (long)length * c.HiddenSize;
        var linears = lwc.Select(l => new DeviceLinear(backend, l)).ToArray();
        var buffers = new List<IDisposable>(linears);
        BackendBuffer<float> A(long count)
        {
            var b = backend.Allocate<float>(count);
            buffers.Add(b);
            return b;
        }
        BackendBuffer<float> Upload(float[] a)
        {
            var b = A(a.LongLength);
            b.Upload(a);
            return b;
        }
        try
        {
            var weights = new BlockBuffers<float>
            {
                AttnNorm = Upload(norms.AttnNorm), FfnNorm = Upload(norms.FfnNorm),
                Wq = linears[0].Wq, Wk = linears[1].Wq, Wv = linears[2].Wq, Wo = linears[3].Wq,
                WGate = linears[4].Wq, WUp = linears[5].Wq, WDown = linears[6].Wq,
            };
            var grads = new BlockBuffers<float>
            {
                AttnNorm = A(c.HiddenSize), FfnNorm = A(c.HiddenSize),
                Wq = linears[0].DWq, Wk = linears[1].DWq, Wv = linears[2].DWq, Wo = linears[3].DWq,
                WGate = linears[4].DWq, WUp = linears[5].DWq, WDown = linears[6].DWq,
            };
            var saved = new BlockActivations<float>(backend, c, length);
            buffers.Add(saved);
            var workspace = new BlockGradientWorkspace<float>(backend, c, length);
            buffers.Add(workspace);
            BackendBuffer<float> x = A(td), y = A(td), dy = A(td), dx = A(td), target = A(td);
            BackendBuffer<float>? aug = augTargets != null ? A(td) : null;

            double firstEpoch = double.NaN, lastEpoch = double.NaN;
            long step = 0;
            var order = Enumerable.Range(0, n).ToArray();
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                var shuffled = (int[])order.Clone();
                new Random(OmniQuantizer.ShuffleSeed(seed, layer, epoch)).Shuffle(shuffled);
                double sum = 0;
                for (int s = 0; s < n; s++)
                {
                    cancel.ThrowIfCancellationRequested();
                    int k = shuffled[s];
                    foreach (var l in linears) l.Forward(backend);
                    x.Upload(xq[k]);
                    target.Upload(targets[k]);
                    TrainingBlock.Forward(y, saved, x, weights, c, length);
                    double loss = backend.MseForward(y, target, td);
                    backend.MseBackward(dy, 1.0, y, target, td);
                    if (aug != null)
                    {
                        aug.Upload(augTargets![k]);
                        loss += backend.MseForward(y, aug, td);
                        backend.MseBackward(dy, 1.0, y, aug, td, accumulate: true);
                    }
                    TrainingBlock.Backward(dx, grads, dy, saved, weights, c, workspace);
                    var scalars = AdamWStepScalars.Create(learningRate, WeightDecay, Beta1, Beta2, Epsilon, ++step);
                    foreach (var l in linears) l.BackwardAndStep(backend, scalars);
                    sum += loss;
                    onStep?.Invoke(epoch, s, sum / (s + 1));
                }
                if (epoch == 0) firstEpoch = sum / n;
                lastEpoch = sum / n;
            }
            foreach (var l in linears) l.DownloadParameters();
            return (firstEpoch, lastEpoch);
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
        }
    }

    /// <summary>One linear's LWC state on the device: W, u, l, Ŵ, the forward's saved tensors, dŴ, du, dl and the
    /// AdamW moments of u and l.</summary>
    private sealed class DeviceLinear : IDisposable
    {
        private readonly LwcLinear _host;
        private readonly BackendBuffer<float> _w, _u, _l, _dW, _du, _dl, _mu, _vu, _ml, _vl;
        private readonly BackendBuffer<byte> _codes;
        private readonly LwcSaved _saved;

        public DeviceLinear(IBackend b, LwcLinear host)
        {
            _host = host;
            var shape = host.Shape;
            _w = b.Allocate<float>(shape.Elements);
            _w.Upload(host.Weights);
            _u = b.Allocate<float>(shape.GroupCount);
            _u.Upload(host.U.Value);
            _l = b.Allocate<float>(shape.GroupCount);
            _l.Upload(host.L.Value);
            Wq = b.Allocate<float>(shape.Elements);
            DWq = b.Allocate<float>(shape.Elements);
            _dW = b.Allocate<float>(shape.Elements);
            _codes = b.Allocate<byte>(shape.Elements);
            _saved = LwcSaved.Allocate(b, shape);
            _du = b.Allocate<float>(shape.GroupCount);
            _dl = b.Allocate<float>(shape.GroupCount);
            var zeros = new float[shape.GroupCount];
            (_mu, _vu, _ml, _vl) = (Zeros(), Zeros(), Zeros(), Zeros());
            BackendBuffer<float> Zeros()
            {
                var m = b.Allocate<float>(shape.GroupCount);
                m.Upload(zeros);
                return m;
            }
        }

        /// <summary>Ŵ: the block's training weight.</summary>
        public BackendBuffer<float> Wq { get; }

        /// <summary>dL/dŴ: the block backward's parameter gradient.</summary>
        public BackendBuffer<float> DWq { get; }

        public void Forward(IBackend b) =>
            b.FakeQuantLwcForward(Wq, _codes, _saved, _w, _u, _l, _host.Shape, ScaleClamp.Default);

        /// <summary>du, dl from dŴ (W is frozen: its gradient is dropped), then AdamW on u and l.</summary>
        public void BackwardAndStep(IBackend b, AdamWStepScalars step)
        {
            b.FakeQuantLwcBackward(_dW, _du, _dl, DWq, _w, _u, _l, _saved, _host.Shape, ScaleClamp.Default);
            b.AdamWStep(_u, _mu, _vu, _du, _host.Shape.GroupCount, step);
            b.AdamWStep(_l, _ml, _vl, _dl, _host.Shape.GroupCount, step);
        }

        public void DownloadParameters()
        {
            _u.Download(_host.U.Value);
            _l.Download(_host.L.Value);
        }

        public void Dispose()
        {
            foreach (var buffer in new[] { _w, _u, _l, Wq, DWq, _dW, _du, _dl, _mu, _vu, _ml, _vl }) buffer.Dispose();
            _codes.Dispose();
            _saved.Dispose();
        }
    }
}
