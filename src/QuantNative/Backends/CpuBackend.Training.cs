using System.Numerics;
using QuantNative.Cpu;
using QuantNative.Model;

namespace QuantNative.Backends;

/// <summary>The block ops on the CPU: each checks the shapes, then calls the C# op of Cpu/ on the buffers' arrays
/// (no copies).</summary>
public sealed partial class CpuBackend
{
    private readonly Lock _ropeGate = new();
    private readonly Dictionary<(int HeadDim, RopeParameters Rope), Rope> _ropes = new();

    public void LinearForward<T>(BackendBuffer<T> y, BackendBuffer<T> x, BackendBuffer<T> weight, int rows,
        int outDim, int inDim, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.LinearForward(this, y, x, weight, rows, outDim, inDim);
        Linear.Forward(A(y), A(x), A(weight), rows, outDim, inDim, accumulate);
    }

    public void LinearBackward<T>(BackendBuffer<T>? dx, BackendBuffer<T>? dWeight, BackendBuffer<T> dy,
        BackendBuffer<T> x, BackendBuffer<T> weight, int rows, int outDim, int inDim, bool accumulateInput = false,
        bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.LinearBackward(this, dx, dWeight, dy, x, weight, rows, outDim, inDim);
        Linear.Backward(AOrNull(dx), AOrNull(dWeight), A(dy), A(x), A(weight), rows, outDim, inDim, accumulateInput,
            accumulateParameters);
    }

    public void RmsNormForward<T>(BackendBuffer<T> y, BackendBuffer<T> inverseRms, BackendBuffer<T> x,
        BackendBuffer<T> gamma, int rows, int dim, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.RmsNormForward(this, y, inverseRms, x, gamma, rows, dim, eps);
        RmsNorm.Forward(A(y), A(inverseRms), A(x), A(gamma), rows, dim, eps);
    }

    public void RmsNormBackward<T>(BackendBuffer<T> dx, BackendBuffer<T>? dGamma, BackendBuffer<T> dy,
        BackendBuffer<T> x, BackendBuffer<T> inverseRms, BackendBuffer<T> gamma, int rows, int dim,
        bool accumulateInput = false, bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.RmsNormBackward(this, dx, dGamma, dy, x, inverseRms, gamma, rows, dim);
        RmsNorm.Backward(A(dx), AOrNull(dGamma), A(dy), A(x), A(inverseRms), A(gamma), rows, dim, accumulateInput,
            accumulateParameters);
    }

    public void RopeForward<T>(BackendBuffer<T> x, int rows, int heads, int headDim, RopeParameters rope)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Rope("rope forward", this, x, rows, heads, headDim, rope);
        RopeTable(headDim, rows, rope).Forward(A(x), rows, heads, 0);
    }

    public void RopeBackward<T>(BackendBuffer<T> dx, int rows, int heads, int headDim, RopeParameters rope)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Rope("rope backward", this, dx, rows, heads, headDim, rope);
        RopeTable(headDim, rows, rope).Backward(A(dx), rows, heads, 0);
    }

    /// <summary>
    /// A RoPE table for at least <paramref name="positions"/> positions, kept per (head dim, RoPE parameters) and rebuilt
    /// larger when a longer window comes: an angle depends only on its position, so a larger table rotates the first
    /// positions exactly as a smaller one.
    /// </summary>
    internal Rope RopeTable(int headDim, int positions, RopeParameters parameters)
    {
        lock (_ropeGate)
        {
            if (_ropes.TryGetValue((headDim, parameters), out var rope) && rope.MaxPositions >= positions) return rope;
            int size = Math.Max(positions, rope == null ? 0 : Math.Min(2 * rope.MaxPositions, 1 << 20));
            return _ropes[(headDim, parameters)] = new Rope(headDim, size, parameters);
        }
    }

    public void AttentionForward<T>(BackendBuffer<T> output, BackendBuffer<T> logSumExp, BackendBuffer<T> q,
        BackendBuffer<T> k, BackendBuffer<T> v, int tokens, int heads, int kvHeads, int headDim, int window = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.AttentionForward(this, output, logSumExp, q, k, v, tokens, heads, kvHeads, headDim, window);
        CausalAttention.Forward(A(output), A(logSumExp), A(q), A(k), A(v), tokens, 0, heads, kvHeads, headDim,
            window);
    }

    public void AttentionBackward<T>(BackendBuffer<T> dQ, BackendBuffer<T> dK, BackendBuffer<T> dV,
        BackendBuffer<T> dOutput, BackendBuffer<T> q, BackendBuffer<T> k, BackendBuffer<T> v,
        BackendBuffer<T> logSumExp, int tokens, int heads, int kvHeads, int headDim, int window = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.AttentionBackward(this, dQ, dK, dV, dOutput, q, k, v, logSumExp, tokens, heads, kvHeads,
            headDim, window);
        CausalAttention.Backward(A(dQ), A(dK), A(dV), A(dOutput), A(q), A(k), A(v), A(logSumExp), tokens, heads,
            kvHeads, headDim, window);
    }

    public void SwiGluForward<T>(BackendBuffer<T> h, BackendBuffer<T> a, BackendBuffer<T> b, long count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Elementwise("swiglu forward", this, count, ("h", h), ("a", a), ("b", b));
        SwiGlu.Forward(A(h), A(a), A(b), count);
    }

    public void SwiGluBackward<T>(BackendBuffer<T> da, BackendBuffer<T> db, BackendBuffer<T> dh, BackendBuffer<T> a,
        BackendBuffer<T> b, long count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Elementwise("swiglu backward", this, count, ("da", da), ("db", db), ("dh", dh), ("a", a),
            ("b", b));
        SwiGlu.Backward(A(da), A(db), A(dh), A(a), A(b), count);
    }

    public double MseForward<T>(BackendBuffer<T> y, BackendBuffer<T> target, long count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Elementwise("mse forward", this, count, ("y", y), ("target", target));
        return MseLoss.Forward(A(y), A(target), count);
    }

    public void MseBackward<T>(BackendBuffer<T> dy, double dLoss, BackendBuffer<T> y, BackendBuffer<T> target,
        long count, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Elementwise("mse backward", this, count, ("dy", dy), ("y", y), ("target", target));
        MseLoss.Backward(A(dy), dLoss, A(y), A(target), count, accumulate);
    }

    public void Copy<T>(BackendBuffer<T> dst, BackendBuffer<T> src, long count) where T : unmanaged
    {
        TrainingChecks.Elementwise("copy", this, count, ("dst", dst), ("src", src));
        Array.Copy(A(src), A(dst), count);
    }

    public void AdamWStep<T>(BackendBuffer<T> value, BackendBuffer<T> expAvg, BackendBuffer<T> expAvgSq,
        BackendBuffer<T> grad, long count, AdamWStepScalars step) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Elementwise("adamw step", this, count, ("value", value), ("expAvg", expAvg),
            ("expAvgSq", expAvgSq), ("grad", grad));
        AdamWUpdate.Apply(A(value), A(grad), A(expAvg), A(expAvgSq), count, step);
    }

    public void Add<T>(BackendBuffer<T> dst, BackendBuffer<T> src, long count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.Elementwise("add", this, count, ("dst", dst), ("src", src));
        T[] d = A(dst), s = A(src);
        for (long n = 0; n < count; n++) d[n] += s[n];
    }

    public void AddBias<T>(BackendBuffer<T> y, BackendBuffer<T> bias, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.AddBias(this, y, bias, rows, cols);
        Linear.AddBias(A(y), A(bias), rows, cols);
    }

    public void SdeColumns<T>(BackendBuffer<T> at, BackendBuffer<T> ut, BackendBuffer<T> e, BackendBuffer<int> maskRows,
        BackendBuffer<int> columnStarts, int entries, int active, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.SdeColumns(this, at, ut, e, maskRows, columnStarts, entries, active, rows);
        SdeMath.Columns(A(at), A(ut), A(e), A(maskRows), A(columnStarts), active, rows);
    }

    public void SdeMaskedDot<T>(BackendBuffer<T> dE, BackendBuffer<T> ut, BackendBuffer<T> tt,
        BackendBuffer<int> maskRows, BackendBuffer<int> maskCols, int entries, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TrainingChecks.SdeMaskedDot(this, dE, ut, tt, maskRows, maskCols, entries, rows);
        SdeMath.MaskedDots(A(dE), A(ut), A(tt), A(maskRows), A(maskCols), entries, rows);
    }
}
