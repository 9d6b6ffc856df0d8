using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Quantization.Learned.Cqe;
using static QuantNative.Verification.OpCheck;

namespace QuantNative.Verification;

/// <summary>
/// The training ops of the CUDA backend (kernels/train/, the GEMMs through the runtime's Sgemm) against the CPU
/// backend: forward and backward of linear, RMSNorm, RoPE, attention, SwiGLU, MSE; AdamW; the SDE helpers and adds.
/// The shapes are the kernel tests' awkward sizes (1, 3, 17, non-multiples of the tiles); `--large` adds shapes of a
/// real model's head and FFN sizes. Accumulating outputs start from values, the others poisoned.
/// </summary>
public static class TrainingOpCases
{
    private const double Tol = Tolerances.CudaVsCpuOpRel;

    public static IEnumerable<OpCase> All()
    {
        foreach (var (rows, outDim, inDim, acc, large) in new[]
                 { (1, 3, 17, false, false), (5, 17, 3, true, false), (17, 8, 16, false, false), (64, 172, 256, true, true) })
            yield return new OpCase("linear", $"rows {rows} out {outDim} in {inDim}{(acc ? " accumulate" : "")}",
                c => c.OnPair((p, r) => Linear(p, r, rows, outDim, inDim, acc)), large);
        // Not dim 1: there dx = γ·dy·eps/r³ comes out of two terms of size 1/r that cancel, so the CPU's and the
        // device's dx are both float noise of 1/r and their relative difference says nothing about the kernel.
        foreach (var (rows, dim, acc, large) in new[] { (1, 7, false, false), (3, 17, true, false), (5, 300, true, false), (512, 288, false, true) })
            yield return new OpCase("rmsnorm", $"rows {rows} dim {dim}{(acc ? " accumulate" : "")}",
                c => c.OnPair((p, r) => RmsNorm(p, r, rows, dim, acc)), large);
        foreach (var (rows, heads, headDim, type, large) in new[]
                 {
                     (1, 1, 2, RopeType.Default, false), (17, 2, 8, RopeType.Default, false),
                     (17, 2, 16, RopeType.Linear, false), (33, 2, 16, RopeType.Llama3, false),
                     (256, 8, 64, RopeType.Llama3, true),
                 })
            yield return new OpCase("rope", $"rows {rows} heads {heads} head_dim {headDim} {type}",
                c => c.OnPair((p, r) => Rope(p, r, rows, heads, headDim, type)), large);
        foreach (var (tokens, heads, kv, headDim, window, large) in new[]
                 {
                     (1, 4, 2, 8, 0, false), (17, 4, 2, 8, 0, false), (17, 3, 3, 3, 0, false), (5, 2, 1, 17, 0, false),
                     (17, 4, 2, 8, 1, false), (17, 3, 1, 8, 3, false), (17, 2, 1, 17, 40, false),
                     (128, 8, 2, 64, 0, true), (128, 4, 4, 64, 32, true),
                 })
            yield return new OpCase("attention", $"tokens {tokens} heads {heads}/{kv} head_dim {headDim} window {window}",
                c => c.OnPair((p, r) => Attention(p, r, tokens, heads, kv, headDim, window)), large);
        foreach (var (count, large) in new[] { (1, false), (17, false), (1000, false), (1 << 20, true) })
            yield return new OpCase("swiglu", $"count {count}", c => c.OnPair((p, r) => SwiGlu(p, r, count)), large);
        foreach (var (count, acc, large) in new[] { (1, false, false), (17, true, false), (70000, false, false), (1 << 20, true, true) })
            yield return new OpCase("mse", $"count {count}{(acc ? " accumulate" : "")}", c => c.OnPair((p, r) => Mse(p, r, count, acc)), large);
        foreach (var (count, large) in new[] { (17, false), (1000, false), (1 << 20, true) })
            yield return new OpCase("adamw", $"count {count} 3 steps", c => c.OnPair((p, r) => AdamW(p, r, count)), large);
        foreach (var (rows, cols) in new[] { (1, 1), (3, 17), (17, 300) })
            yield return new OpCase("add-bias", $"rows {rows} cols {cols}", c => c.OnPair((p, r) => AddBias(p, r, rows, cols)));
        foreach (int rows in new[] { 1, 19, 300 })
            yield return new OpCase("sde-columns", $"rows {rows} mask band:1+block:3 rank 7", c => c.OnPair((p, r) => SdeColumns(p, r, rows)));
        foreach (int rows in new[] { 1, 19, 1000 })
            yield return new OpCase("sde-masked-dot", $"rows {rows} mask band:1+block:3 rank 7", c => c.OnPair((p, r) => SdeMaskedDot(p, r, rows)));
    }

    public static IReadOnlyList<OpCheck> Linear(DevicePair p, Random r, int rows, int outDim, int inDim, bool accumulate)
    {
        var x = p.Random(r, rows * inDim);
        var w = p.Random(r, outDim * inDim);
        var dy = p.Random(r, rows * outDim);
        var y = accumulate ? p.Random(r, rows * outDim) : p.Poisoned(rows * outDim);
        var dx = accumulate ? p.Random(r, rows * inDim) : p.Poisoned(rows * inDim);
        var dW = accumulate ? p.Random(r, outDim * inDim) : p.Poisoned(outDim * inDim);
        p.Run((b, o) =>
        {
            b.LinearForward(o(y), o(x), o(w), rows, outDim, inDim, accumulate);
            b.LinearBackward(o(dx), o(dW), o(dy), o(x), o(w), rows, outDim, inDim, accumulate, accumulate);
        });
        return [Rel("y", y), Rel("dx", dx), Rel("dW", dW)];
    }

    public static IReadOnlyList<OpCheck> RmsNorm(DevicePair p, Random r, int rows, int dim, bool accumulate)
    {
        var x = p.Random(r, rows * dim);
        var gamma = p.Random(r, dim, 0.5, 1.5);
        var dy = p.Random(r, rows * dim);
        var (y, inv) = (p.Poisoned(rows * dim), p.Poisoned(rows));
        var dx = accumulate ? p.Random(r, rows * dim) : p.Poisoned(rows * dim);
        var dGamma = accumulate ? p.Random(r, dim) : p.Poisoned(dim);
        p.Run((b, o) =>
        {
            b.RmsNormForward(o(y), o(inv), o(x), o(gamma), rows, dim, 1e-5);
            b.RmsNormBackward(o(dx), o(dGamma), o(dy), o(x), o(inv), o(gamma), rows, dim, accumulate, accumulate);
        });
        return [Rel("y", y), Rel("inverseRms", inv), Rel("dx", dx), Rel("dγ", dGamma)];
    }

    public static IReadOnlyList<OpCheck> Rope(DevicePair p, Random r, int rows, int heads, int headDim, RopeType type)
    {
        var x = p.Random(r, rows * heads * headDim);
        var dx = p.Random(r, rows * heads * headDim);
        // Llama 3.1's bands at a tiny original context, so that all three bands occur at small head dims.
        var rope = new RopeParameters(500000, type == RopeType.Default ? RopeScaling.None : new RopeScaling(type, 8, 1, 4, 16));
        p.Run((b, o) =>
        {
            b.RopeForward(o(x), rows, heads, headDim, rope);
            b.RopeBackward(o(dx), rows, heads, headDim, rope);
        });
        return [BitExact("rope(x)", DevicePair.BitMismatches(x)), BitExact("rope backward", DevicePair.BitMismatches(dx))];
    }

    public static IReadOnlyList<OpCheck> Attention(DevicePair p, Random r, int tokens, int heads, int kvHeads, int headDim, int window)
    {
        int qn = tokens * heads * headDim, kvn = tokens * kvHeads * headDim;
        var q = p.Random(r, qn, -2, 2); // larger scores: the softmax is far from uniform
        var k = p.Random(r, kvn, -2, 2);
        var v = p.Random(r, kvn);
        var dO = p.Random(r, qn);
        var (o, lse) = (p.Poisoned(qn), p.Poisoned(heads * tokens));
        var (dQ, dK, dV) = (p.Poisoned(qn), p.Poisoned(kvn), p.Poisoned(kvn));
        p.Run((b, t) =>
        {
            b.AttentionForward(t(o), t(lse), t(q), t(k), t(v), tokens, heads, kvHeads, headDim, window);
            b.AttentionBackward(t(dQ), t(dK), t(dV), t(dO), t(q), t(k), t(v), t(lse), tokens, heads, kvHeads, headDim,
                window);
        });
        var checks = new List<OpCheck> { Rel("output", o), Rel("logSumExp", lse), Rel("dV", dV) };
        if (tokens == 1 || window == 1)
        {
            // One key per query: P ≡ 1 and dQ = dK = 0 exactly on the CPU; the device's other summation order leaves
            // float noise of the size of dV's terms (TrainKernelTests.Attention says why).
            checks.Add(new OpCheck("dQ", DevicePair.NoiseOfZero(dQ, dV), Tol, "‖dQ‖/‖dV‖ (exact 0)"));
            checks.Add(new OpCheck("dK", DevicePair.NoiseOfZero(dK, dV), Tol, "‖dK‖/‖dV‖ (exact 0)"));
        }
        else
        {
            checks.Add(Rel("dQ", dQ));
            checks.Add(Rel("dK", dK));
        }
        return checks;
    }

    public static IReadOnlyList<OpCheck> SwiGlu(DevicePair p, Random r, int count)
    {
        var (a, bb, dh) = (p.Random(r, count, -4, 4), p.Random(r, count), p.Random(r, count));
        var (h, da, db) = (p.Poisoned(count), p.Poisoned(count), p.Poisoned(count));
        p.Run((b, o) =>
        {
            b.SwiGluForward(o(h), o(a), o(bb), count);
            b.SwiGluBackward(o(da), o(db), o(dh), o(a), o(bb), count);
        });
        return [Rel("h", h), Rel("da", da), Rel("db", db)];
    }

    public static IReadOnlyList<OpCheck> Mse(DevicePair p, Random r, int count, bool accumulate)
    {
        var (y, t) = (p.Random(r, count), p.Random(r, count));
        var dy = accumulate ? p.Random(r, count) : p.Poisoned(count);
        var losses = new List<double>();
        p.Run((b, o) =>
        {
            losses.Add(b.MseForward(o(y), o(t), count));
            b.MseBackward(o(dy), 0.75, o(y), o(t), count, accumulate);
        });
        double lossError = Math.Abs(losses[1] - losses[0]) / losses[0];
        return
        [
            new OpCheck("loss", double.IsNaN(lossError) ? double.PositiveInfinity : lossError,
                Tolerances.MseLossReorderedRel, "|Δ|/|cpu|"),
            BitExact("dy", DevicePair.BitMismatches(dy)),
        ];
    }

    public static IReadOnlyList<OpCheck> AdamW(DevicePair p, Random r, int count)
    {
        var value = p.Random(r, count);
        var (m, v) = (p.Of(new float[count]), p.Of(new float[count]));
        for (int step = 1; step <= 3; step++)
        {
            var grad = p.Random(r, count);
            var s = AdamWStepScalars.Create(1e-2, step == 2 ? 0.1 : 0, 0.9, 0.999, 1e-8, step);
            p.Run((b, o) => b.AdamWStep(o(value), o(m), o(v), o(grad), count, s));
        }
        return
        [
            BitExact("value", DevicePair.BitMismatches(value)), BitExact("expAvg", DevicePair.BitMismatches(m)),
            BitExact("expAvgSq", DevicePair.BitMismatches(v)),
        ];
    }

    public static IReadOnlyList<OpCheck> AddBias(DevicePair p, Random r, int rows, int cols)
    {
        var y = p.Random(r, rows * cols);
        var bias = p.Random(r, cols);
        var dst = p.Random(r, rows * cols);
        var src = p.Random(r, rows * cols);
        p.Run((b, o) =>
        {
            b.AddBias(o(y), o(bias), rows, cols);
            b.Add(o(dst), o(src), rows * cols);
        });
        return [BitExact("y + bias", DevicePair.BitMismatches(y)), BitExact("dst + src", DevicePair.BitMismatches(dst))];
    }

    /// <summary>A mask with one, two and three entries per column (band and block together) over 7 directions.</summary>
    private static SdeMaskLayout Mask() => SdeMask.Parse("band:1+block:3").For(7, "test-backend");

    public static IReadOnlyList<OpCheck> SdeColumns(DevicePair p, Random r, int rows)
    {
        var m = Mask();
        var ut = p.Random(r, m.Active * rows);
        var e = p.Random(r, m.Count);
        var at = p.Poisoned(m.Active * rows);
        var maskRows = p.Of(m.Rows);
        var starts = p.Of(m.ColumnStarts());
        p.Run((b, o) => b.SdeColumns(o(at), o(ut), o(e), Of(b, p, maskRows), Of(b, p, starts), m.Count, m.Active, rows));
        return [BitExact("Aᵀ", DevicePair.BitMismatches(at))];
    }

    public static IReadOnlyList<OpCheck> SdeMaskedDot(DevicePair p, Random r, int rows)
    {
        var m = Mask();
        var ut = p.Random(r, m.Active * rows);
        var tt = p.Random(r, m.Active * rows);
        var dE = p.Poisoned(m.Count);
        var maskRows = p.Of(m.Rows);
        var maskCols = p.Of(m.Cols);
        p.Run((b, o) => b.SdeMaskedDot(o(dE), o(ut), o(tt), Of(b, p, maskRows), Of(b, p, maskCols), m.Count, rows));
        return [Rel("dE", dE)];
    }

    private static BackendBuffer<int> Of(IBackend b, DevicePair p, DevicePair.Ints t) =>
        ReferenceEquals(b, p.Cpu) ? t.OnCpu : t.OnDevice;

    private static OpCheck Rel(string output, DevicePair.Tensor t) => Relative(output, DevicePair.RelativeError(t), Tol);
}
