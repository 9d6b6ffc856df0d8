using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Learned.Lwc;
using static QuantNative.Backends.HostArrays;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// One linear's trainable state on the backend of the epochs (<see cref="BackendBlockTraining"/>): LWC's W (or, with
/// SDE, W'), u, l, Ŵ, the forward's saved tensors, dŴ, dW', du, dl and the AdamW moments of u and l; with SDE also
/// the frozen W, the factors Uᵀ, Vᵀ, E, dE, E's moments, the scratches Aᵀ, Tᵀ and the mask's entries.
/// On the CPU backend the host arrays (<see cref="LwcLinear"/>, <see cref="SdeLinear"/>) are the buffers
/// (<see cref="HostArrays.Bind{T}"/>), so nothing is copied; elsewhere they are uploaded once and the learned
/// parameters downloaded by <see cref="Download"/>.
/// </summary>
internal sealed class TrainedLinear : IDisposable
{
    private readonly LwcLinear _lwc;
    private readonly SdeLinear? _sde;
    private readonly List<IDisposable> _owned = [];
    private readonly BackendBuffer<float> _w, _u, _l, _dW, _du, _dl, _mu, _vu, _ml, _vl;
    private readonly BackendBuffer<byte> _codes;
    private readonly LwcSaved _saved;
    private readonly SdeState? _sdeState;

    public TrainedLinear(IBackend b, LwcLinear lwc, SdeLinear? sde)
    {
        _lwc = lwc;
        _sde = sde;
        var shape = lwc.Shape;
        _w = Own(Bind(b, lwc.Weights)); // W' with SDE: the composition below writes it
        _u = Own(Bind(b, lwc.U.Value));
        _l = Own(Bind(b, lwc.L.Value));
        FakeQuantized = Own(b.Allocate<float>(shape.Elements));
        DFakeQuantized = Own(b.Allocate<float>(shape.Elements));
        _dW = Own(b.Allocate<float>(shape.Elements));
        _codes = Own(b.Allocate<byte>(shape.Elements));
        _saved = Own(LwcSaved.Allocate(b, shape));
        _du = Own(b.Allocate<float>(shape.GroupCount));
        _dl = Own(b.Allocate<float>(shape.GroupCount));
        (_mu, _vu, _ml, _vl) = (Zeros(b, shape.GroupCount), Zeros(b, shape.GroupCount), Zeros(b, shape.GroupCount),
            Zeros(b, shape.GroupCount));
        if (sde != null) _sdeState = new SdeState(this, b, sde);
    }

    /// <summary>Ŵ, the fake-quantized weight: the block's training weight.</summary>
    public BackendBuffer<float> FakeQuantized { get; }

    /// <summary>dL/dŴ: the block backward's parameter gradient.</summary>
    public BackendBuffer<float> DFakeQuantized { get; }

    /// <summary>Ŵ from the current parameters: W' = W + U·(M⊙E)·Vᵀ first with SDE, then the LWC forward.</summary>
    public void Forward(IBackend b)
    {
        _sdeState?.Compose(b, _w);
        b.FakeQuantLwcForward(FakeQuantized, _codes, _saved, _w, _u, _l, _lwc.Shape, ScaleClamp.Default);
    }

    /// <summary>From dŴ: du, dl (and dW' → dE with SDE), then AdamW on u, l with <paramref name="clip"/>'s scalars
    /// and on E with <paramref name="sde"/>'s (each group its own learning rate). Plain LWC drops dW (W is frozen).</summary>
    public void BackwardAndStep(IBackend b, AdamWStepScalars clip, AdamWStepScalars sde)
    {
        b.FakeQuantLwcBackward(_dW, _du, _dl, DFakeQuantized, _w, _u, _l, _saved, _lwc.Shape, ScaleClamp.Default);
        b.AdamWStep(_u, _mu, _vu, _du, _lwc.Shape.GroupCount, clip);
        b.AdamWStep(_l, _ml, _vl, _dl, _lwc.Shape.GroupCount, clip);
        _sdeState?.BackwardAndStep(b, _dW, sde);
    }

    /// <summary>The learned u, l (and E) into the host parameters, ready for the commit.</summary>
    public void Download()
    {
        Return(_u, _lwc.U.Value);
        Return(_l, _lwc.L.Value);
        if (_sdeState != null) Return(_sdeState.E, _sde!.E.Value);
    }

    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
    }

    private TB Own<TB>(TB buffer) where TB : IDisposable
    {
        _owned.Add(buffer);
        return buffer;
    }

    private BackendBuffer<float> Zeros(IBackend b, long n) => Own(Bind(b, new float[n]));

    /// <summary>SDE's tensors of one linear (DESIGN.md §7.6) and its two products as backend ops: the composition
    /// Aᵀ by <see cref="IBackend.SdeColumns{T}"/>, then W' = W + A·Vᵀ as the dW GEMM of a linear backward
    /// (dyᵀ·x with dy = Aᵀ, x = Vᵀ, accumulated onto a copy of W); the gradient Tᵀ = Vᵀ·Gᵀ as a linear forward
    /// (x = Vᵀ, weight = G), then dE by <see cref="IBackend.SdeMaskedDot{T}"/>. On the CPU these are the GEMM calls
    /// <see cref="SdeMath"/> makes, so W' and dE are bit for bit <see cref="SdeLinear"/>'s.</summary>
    private sealed class SdeState
    {
        private readonly SdeLinear _host;
        private readonly BackendBuffer<float> _w0, _ut, _vt, _de, _me, _ve, _at, _tt;
        private readonly BackendBuffer<int> _maskRows, _maskCols, _columnStarts;

        public SdeState(TrainedLinear owner, IBackend b, SdeLinear host)
        {
            _host = host;
            var mask = host.Mask;
            long aRows = (long)mask.Active * host.Rows;
            _w0 = owner.Own(Bind(b, host.Weights));
            _ut = owner.Own(Bind(b, host.Factors.Ut));
            _vt = owner.Own(Bind(b, host.Factors.Vt));
            E = owner.Own(Bind(b, host.E.Value));
            _de = owner.Own(b.Allocate<float>(mask.Count));
            (_me, _ve) = (owner.Zeros(b, mask.Count), owner.Zeros(b, mask.Count));
            _at = owner.Own(b.Allocate<float>(aRows));
            _tt = owner.Own(b.Allocate<float>(aRows));
            _maskRows = owner.Own(Bind(b, mask.Rows));
            _maskCols = owner.Own(Bind(b, mask.Cols));
            _columnStarts = owner.Own(Bind(b, mask.ColumnStarts()));
        }

        public BackendBuffer<float> E { get; }

        public void Compose(IBackend b, BackendBuffer<float> wPrime)
        {
            var m = _host.Mask;
            int rows = _host.Rows, cols = _host.Cols;
            b.SdeColumns(_at, _ut, E, _maskRows, _columnStarts, m.Count, m.Active, rows);
            b.Copy(wPrime, _w0, (long)rows * cols);
            b.LinearBackward(null, wPrime, _at, _vt, _w0, m.Active, rows, cols, accumulateParameters: true);
        }

        public void BackwardAndStep(IBackend b, BackendBuffer<float> dWPrime, AdamWStepScalars step)
        {
            var m = _host.Mask;
            int rows = _host.Rows, cols = _host.Cols;
            b.LinearForward(_tt, _vt, dWPrime, m.Active, rows, cols);
            b.SdeMaskedDot(_de, _ut, _tt, _maskRows, _maskCols, m.Count, rows);
            b.AdamWStep(E, _me, _ve, _de, m.Count, step);
        }
    }
}
