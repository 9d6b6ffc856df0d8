using System.Numerics;
using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Model;
using static QuantNative.Cuda.TrainLaunch;

namespace QuantNative.Cuda;

/// <summary>
/// The block ops on the CUDA backend: GEMMs through <see cref="ICudaRuntime.Sgemm"/> (cuBLAS, or OpenBLAS on the
/// emulator), the rest as launches of kernels/train/ (<see cref="TrainLaunch"/>). float32 only: other element types
/// are refused by name. Shapes are checked by <see cref="TrainingChecks"/> (the same checks as the CPU backend), then
/// the kernels' own assumptions by <see cref="TrainLaunch"/>.
/// </summary>
public sealed partial class CudaBackend
{
    private readonly Lock _trainGate = new();
    private bool _trainLoaded;
    private readonly Dictionary<(int HeadDim, RopeParameters Rope), (int Positions, BackendBuffer<float> Cos,
        BackendBuffer<float> Sin)> _ropeTables = new();
    private BackendBuffer<float>? _attentionDelta; // [heads, T]: rowsum(dO ⊙ O) between the two backward kernels

    private static void Float<T>(string op)
    {
        if (typeof(T) != typeof(float))
            throw new QuantNativeException($"{op}: the CUDA backend runs float32 only, not {typeof(T).Name}");
    }

    private void EnsureTrainModule()
    {
        lock (_trainGate)
        {
            if (_trainLoaded) return;
            Runtime.LoadModule(Family);
            _trainLoaded = true;
        }
    }

    private void LaunchTrain(string kernel, Dim3 grid, Dim3 block, KernelArguments args, uint shared = 0)
    {
        EnsureTrainModule();
        Runtime.Launch(kernel, grid, block, shared, args);
    }

    // Row-major y [rows, out] = x [rows, in]·Wᵀ is column-major yᵀ [out, rows] = W·xᵀ, where the row-major W [out, in]
    // is the column-major Wᵀ (ld in), so op(A) = transpose; xᵀ is x's buffer as it is (ld in).
    public void LinearForward<T>(BackendBuffer<T> y, BackendBuffer<T> x, BackendBuffer<T> weight, int rows,
        int outDim, int inDim, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>("linear forward");
        TrainingChecks.LinearForward(this, y, x, weight, rows, outDim, inDim);
        Runtime.Sgemm(true, false, outDim, rows, inDim, 1f, P(weight), inDim, P(x), inDim, accumulate ? 1f : 0f,
            P(y), outDim);
    }

    // dx [rows, in] = dy·W: column-major dxᵀ [in, rows] = Wᵀ (W's buffer, ld in) · dyᵀ (dy's buffer, ld out).
    // dW [out, in] = dyᵀ·x: column-major dWᵀ [in, out] = xᵀ (x's buffer, ld in) · dy (dy's buffer transposed, ld out).
    public void LinearBackward<T>(BackendBuffer<T>? dx, BackendBuffer<T>? dWeight, BackendBuffer<T> dy,
        BackendBuffer<T> x, BackendBuffer<T> weight, int rows, int outDim, int inDim, bool accumulateInput = false,
        bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>("linear backward");
        TrainingChecks.LinearBackward(this, dx, dWeight, dy, x, weight, rows, outDim, inDim);
        if (dx != null)
            Runtime.Sgemm(false, false, inDim, rows, outDim, 1f, P(weight), inDim, P(dy), outDim,
                accumulateInput ? 1f : 0f, P(dx), inDim);
        if (dWeight != null)
            Runtime.Sgemm(false, true, inDim, outDim, rows, 1f, P(x), inDim, P(dy), outDim,
                accumulateParameters ? 1f : 0f, P(dWeight), inDim);
    }

    public void RmsNormForward<T>(BackendBuffer<T> y, BackendBuffer<T> inverseRms, BackendBuffer<T> x,
        BackendBuffer<T> gamma, int rows, int dim, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.RmsNormForward);
        TrainingChecks.RmsNormForward(this, y, inverseRms, x, gamma, rows, dim, eps);
        Int32Elements(TrainLaunch.RmsNormForward, "rows·dim", (long)rows * dim);
        using var args = new KernelArguments(7);
        args.Add(P(y)).Add(P(inverseRms)).Add(P(x)).Add(P(gamma)).Add(rows).Add(dim).Add((float)eps);
        LaunchTrain(TrainLaunch.RmsNormForward, new Dim3((uint)rows), new Dim3(Threads), args);
    }

    public void RmsNormBackward<T>(BackendBuffer<T> dx, BackendBuffer<T>? dGamma, BackendBuffer<T> dy,
        BackendBuffer<T> x, BackendBuffer<T> inverseRms, BackendBuffer<T> gamma, int rows, int dim,
        bool accumulateInput = false, bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.RmsNormBackward);
        TrainingChecks.RmsNormBackward(this, dx, dGamma, dy, x, inverseRms, gamma, rows, dim);
        Int32Elements(TrainLaunch.RmsNormBackward, "rows·dim", (long)rows * dim);
        if (dGamma != null)
        {
            // Before dx, which may overwrite dy (the launches run in order).
            using var g = new KernelArguments(7);
            g.Add(P(dGamma)).Add(P(dy)).Add(P(x)).Add(P(inverseRms)).Add(rows).Add(dim)
                .Add(accumulateParameters ? 1 : 0);
            LaunchTrain(RmsNormGammaBackward, new Dim3((uint)((dim + Threads - 1) / Threads)), new Dim3(Threads), g);
        }
        using var args = new KernelArguments(8);
        args.Add(P(dx)).Add(P(dy)).Add(P(x)).Add(P(inverseRms)).Add(P(gamma)).Add(rows).Add(dim)
            .Add(accumulateInput ? 1 : 0);
        LaunchTrain(TrainLaunch.RmsNormBackward, new Dim3((uint)rows), new Dim3(Threads), args);
    }

    public void RopeForward<T>(BackendBuffer<T> x, int rows, int heads, int headDim, RopeParameters rope)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.RopeForward);
        TrainingChecks.Rope("rope forward", this, x, rows, heads, headDim, rope);
        Rope(TrainLaunch.RopeForward, x, rows, heads, headDim, rope);
    }

    public void RopeBackward<T>(BackendBuffer<T> dx, int rows, int heads, int headDim, RopeParameters rope)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.RopeBackward);
        TrainingChecks.Rope("rope backward", this, dx, rows, heads, headDim, rope);
        Rope(TrainLaunch.RopeBackward, dx, rows, heads, headDim, rope);
    }

    private void Rope<T>(string kernel, BackendBuffer<T> x, int rows, int heads, int headDim, RopeParameters rope)
        where T : unmanaged
    {
        Int32Elements(kernel, "rows·heads·headDim", (long)rows * heads * headDim);
        var (cos, sin) = RopeTables(headDim, rows, rope);
        using var args = new KernelArguments(6);
        args.Add(P(x)).Add(P(cos)).Add(P(sin)).Add(rows).Add(heads).Add(headDim);
        LaunchTrain(kernel, new Dim3((uint)rows), new Dim3(Threads), args);
    }

    /// <summary>
    /// The float cos/sin tables [positions, headDim/2] of <see cref="Cpu.Rope"/> on the device, kept per (head dim,
    /// RoPE parameters) and rebuilt larger for a longer window: the kernels rotate with exactly the CPU backend's float angles.
    /// </summary>
    private (BackendBuffer<float> Cos, BackendBuffer<float> Sin) RopeTables(int headDim, int positions, RopeParameters rope)
    {
        lock (_trainGate)
        {
            if (_ropeTables.TryGetValue((headDim, rope), out var t))
            {
                if (t.Positions >= positions) return (t.Cos, t.Sin);
                t.Cos.Dispose();
                t.Sin.Dispose();
            }
            var table = new Rope(headDim, positions, rope);
            var cos = Allocate<float>(table.CosTable.Length);
            var sin = Allocate<float>(table.SinTable.Length);
            cos.Upload(table.CosTable);
            sin.Upload(table.SinTable);
            _ropeTables[(headDim, rope)] = (positions, cos, sin);
            return (cos, sin);
        }
    }

    public void AttentionForward<T>(BackendBuffer<T> output, BackendBuffer<T> logSumExp, BackendBuffer<T> q,
        BackendBuffer<T> k, BackendBuffer<T> v, int tokens, int heads, int kvHeads, int headDim, int window = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.AttentionForward);
        TrainingChecks.AttentionForward(this, output, logSumExp, q, k, v, tokens, heads, kvHeads, headDim, window);
        string sizes = AttentionSizes(tokens, heads, headDim, window);
        Int32Elements(TrainLaunch.AttentionForward, "tokens·heads·headDim", (long)tokens * heads * headDim);
        uint shared = AttentionShared(TrainLaunch.AttentionForward, AttentionRowKeys(tokens, window), sizes);
        using var args = new KernelArguments(11);
        args.Add(P(output)).Add(P(logSumExp)).Add(P(q)).Add(P(k)).Add(P(v)).Add(tokens).Add(heads).Add(kvHeads)
            .Add(headDim).Add(window).Add(AttentionScale(headDim));
        LaunchTrain(TrainLaunch.AttentionForward, new Dim3((uint)tokens, (uint)heads), new Dim3(AttentionThreads),
            args, shared);
    }

    public void AttentionBackward<T>(BackendBuffer<T> dQ, BackendBuffer<T> dK, BackendBuffer<T> dV,
        BackendBuffer<T> dOutput, BackendBuffer<T> q, BackendBuffer<T> k, BackendBuffer<T> v,
        BackendBuffer<T> logSumExp, int tokens, int heads, int kvHeads, int headDim, int window = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.AttentionBackward);
        TrainingChecks.AttentionBackward(this, dQ, dK, dV, dOutput, q, k, v, logSumExp, tokens, heads, kvHeads,
            headDim, window);
        string sizes = AttentionSizes(tokens, heads, headDim, window);
        Int32Elements(TrainLaunch.AttentionBackward, "tokens·heads·headDim", (long)tokens * heads * headDim);
        uint sharedQ = AttentionShared(TrainLaunch.AttentionBackward, 2L * AttentionRowKeys(tokens, window), sizes);
        uint sharedKv = AttentionShared(AttentionKvBackward, 2L * (AttentionThreads / 32) * headDim, sizes);
        float scale = AttentionScale(headDim);
        var delta = AttentionDelta((long)heads * tokens);
        using (var a = new KernelArguments(13))
        {
            a.Add(P(dQ)).Add(P(delta)).Add(P(dOutput)).Add(P(q)).Add(P(k)).Add(P(v)).Add(P(logSumExp)).Add(tokens)
                .Add(heads).Add(kvHeads).Add(headDim).Add(window).Add(scale);
            LaunchTrain(TrainLaunch.AttentionBackward, new Dim3((uint)tokens, (uint)heads),
                new Dim3(AttentionThreads), a, sharedQ);
        }
        using var b = new KernelArguments(14);
        b.Add(P(dK)).Add(P(dV)).Add(P(dOutput)).Add(P(q)).Add(P(k)).Add(P(v)).Add(P(logSumExp)).Add(P(delta))
            .Add(tokens).Add(heads).Add(kvHeads).Add(headDim).Add(window).Add(scale);
        LaunchTrain(AttentionKvBackward, new Dim3((uint)tokens, (uint)kvHeads), new Dim3(AttentionThreads), b,
            sharedKv);
    }

    private static string AttentionSizes(int tokens, int heads, int headDim, int window) =>
        $"[tokens {tokens}, heads {heads}, head dim {headDim}{TrainingChecks.AttentionWindow(window)}]";

    /// <summary>1/√headDim rounded to float as the CPU backend's float path computes it.</summary>
    private static float AttentionScale(int headDim) => 1f / MathF.Sqrt(headDim);

    private BackendBuffer<float> AttentionDelta(long length)
    {
        lock (_trainGate)
        {
            if (_attentionDelta is { } d && d.Length >= length) return d;
            _attentionDelta?.Dispose();
            return _attentionDelta = Allocate<float>(length);
        }
    }

    public void SwiGluForward<T>(BackendBuffer<T> h, BackendBuffer<T> a, BackendBuffer<T> b, long count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.SwiGluForward);
        TrainingChecks.Elementwise("swiglu forward", this, count, ("h", h), ("a", a), ("b", b));
        Int32Elements(TrainLaunch.SwiGluForward, "count", count);
        using var args = new KernelArguments(4);
        args.Add(P(h)).Add(P(a)).Add(P(b)).Add((int)count);
        LaunchTrain(TrainLaunch.SwiGluForward, ElementwiseGrid(count), new Dim3(Threads), args);
    }

    public void SwiGluBackward<T>(BackendBuffer<T> da, BackendBuffer<T> db, BackendBuffer<T> dh, BackendBuffer<T> a,
        BackendBuffer<T> b, long count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.SwiGluBackward);
        TrainingChecks.Elementwise("swiglu backward", this, count, ("da", da), ("db", db), ("dh", dh), ("a", a),
            ("b", b));
        Int32Elements(TrainLaunch.SwiGluBackward, "count", count);
        using var args = new KernelArguments(6);
        args.Add(P(da)).Add(P(db)).Add(P(dh)).Add(P(a)).Add(P(b)).Add((int)count);
        LaunchTrain(TrainLaunch.SwiGluBackward, ElementwiseGrid(count), new Dim3(Threads), args);
    }

    public double MseForward<T>(BackendBuffer<T> y, BackendBuffer<T> target, long count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.MseForward);
        TrainingChecks.Elementwise("mse forward", this, count, ("y", y), ("target", target));
        Int32Elements(TrainLaunch.MseForward, "count", count);
        int blocks = (int)Math.Min((count + Threads - 1) / Threads, MseMaxBlocks);
        using var partials = Allocate<double>(blocks);
        using (var args = new KernelArguments(4))
        {
            args.Add(P(partials)).Add(P(y)).Add(P(target)).Add((int)count);
            LaunchTrain(TrainLaunch.MseForward, new Dim3((uint)blocks), new Dim3(Threads), args);
        }
        double sum = 0;
        foreach (double p in partials.ToArray()) sum += p; // block order: the same sum on every run
        return sum / count;
    }

    public void MseBackward<T>(BackendBuffer<T> dy, double dLoss, BackendBuffer<T> y, BackendBuffer<T> target,
        long count, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.MseBackward);
        TrainingChecks.Elementwise("mse backward", this, count, ("dy", dy), ("y", y), ("target", target));
        Int32Elements(TrainLaunch.MseBackward, "count", count);
        using var args = new KernelArguments(6);
        args.Add(P(dy)).Add(P(y)).Add(P(target)).Add((int)count).Add((float)(2.0 * dLoss / count))
            .Add(accumulate ? 1 : 0);
        LaunchTrain(TrainLaunch.MseBackward, ElementwiseGrid(count), new Dim3(Threads), args);
    }

    public unsafe void Copy<T>(BackendBuffer<T> dst, BackendBuffer<T> src, long count) where T : unmanaged
    {
        TrainingChecks.Elementwise("copy", this, count, ("dst", dst), ("src", src));
        if (P(dst) == P(src)) return; // a window run in place (y = x): nothing to move
        Runtime.CopyDeviceToDevice(P(dst), P(src), count * sizeof(T));
    }

    public void AdamWStep<T>(BackendBuffer<T> value, BackendBuffer<T> expAvg, BackendBuffer<T> expAvgSq,
        BackendBuffer<T> grad, long count, AdamWStepScalars step) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.AdamWStep);
        TrainingChecks.Elementwise("adamw step", this, count, ("value", value), ("expAvg", expAvg),
            ("expAvgSq", expAvgSq), ("grad", grad));
        Int32Elements(TrainLaunch.AdamWStep, "count", count);
        using var args = new KernelArguments(12);
        args.Add(P(value)).Add(P(expAvg)).Add(P(expAvgSq)).Add(P(grad)).Add((int)count).Add((float)step.Decay)
            .Add((float)step.Weight).Add((float)step.Beta2).Add((float)step.OneMinusBeta2).Add((float)step.Epsilon)
            .Add((float)step.StepSize).Add((float)step.BiasCorrection2Sqrt);
        LaunchTrain(TrainLaunch.AdamWStep, ElementwiseGrid(count), new Dim3(Threads), args);
    }

    public void Add<T>(BackendBuffer<T> dst, BackendBuffer<T> src, long count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.Add);
        TrainingChecks.Elementwise("add", this, count, ("dst", dst), ("src", src));
        Int32Elements(TrainLaunch.Add, "count", count);
        using var args = new KernelArguments(3);
        args.Add(P(dst)).Add(P(src)).Add((int)count);
        LaunchTrain(TrainLaunch.Add, ElementwiseGrid(count), new Dim3(Threads), args);
    }

    public void AddBias<T>(BackendBuffer<T> y, BackendBuffer<T> bias, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.AddBias);
        TrainingChecks.AddBias(this, y, bias, rows, cols);
        long count = (long)rows * cols;
        Int32Elements(TrainLaunch.AddBias, "rows·cols", count);
        using var args = new KernelArguments(4);
        args.Add(P(y)).Add(P(bias)).Add(rows).Add(cols);
        LaunchTrain(TrainLaunch.AddBias, ElementwiseGrid(count), new Dim3(Threads), args);
    }

    public void SdeColumns<T>(BackendBuffer<T> at, BackendBuffer<T> ut, BackendBuffer<T> e, BackendBuffer<int> maskRows,
        BackendBuffer<int> columnStarts, int entries, int active, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.SdeColumns);
        TrainingChecks.SdeColumns(this, at, ut, e, maskRows, columnStarts, entries, active, rows);
        Int32Elements(TrainLaunch.SdeColumns, "active·rows", (long)active * rows);
        using var args = new KernelArguments(7);
        args.Add(P(at)).Add(P(ut)).Add(P(e)).Add(P(maskRows)).Add(P(columnStarts)).Add(active).Add(rows);
        LaunchTrain(TrainLaunch.SdeColumns, ElementwiseGrid((long)active * rows), new Dim3(Threads), args);
    }

    public void SdeMaskedDot<T>(BackendBuffer<T> dE, BackendBuffer<T> ut, BackendBuffer<T> tt,
        BackendBuffer<int> maskRows, BackendBuffer<int> maskCols, int entries, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Float<T>(TrainLaunch.SdeMaskedDot);
        TrainingChecks.SdeMaskedDot(this, dE, ut, tt, maskRows, maskCols, entries, rows);
        Int32Elements(TrainLaunch.SdeMaskedDot, "ut/tt elements", ut.Length);
        using var args = new KernelArguments(6);
        args.Add(P(dE)).Add(P(ut)).Add(P(tt)).Add(P(maskRows)).Add(P(maskCols)).Add(rows);
        LaunchTrain(TrainLaunch.SdeMaskedDot, new Dim3((uint)entries), new Dim3(Threads), args);
    }

    /// <summary>Frees the RoPE tables and the attention scratch (before the runtime goes, when it is not ours).</summary>
    private void DisposeTrainingState()
    {
        lock (_trainGate)
        {
            foreach (var t in _ropeTables.Values)
            {
                t.Cos.Dispose();
                t.Sin.Dispose();
            }
            _ropeTables.Clear();
            _attentionDelta?.Dispose();
            _attentionDelta = null;
        }
    }
}
