using QuantNative.Model;
using static QuantNative.Backends.BackendChecks;

namespace QuantNative.Backends;

/// <summary>
/// The shape checks of the block ops (<see cref="IBackend"/>'s training members), shared by the backends so that
/// both refuse the same calls with the same message: the op, its sizes, and the tensor that is short or foreign.
/// </summary>
public static class TrainingChecks
{
    public static void LinearForward<T>(IBackend b, BackendBuffer<T> y, BackendBuffer<T> x, BackendBuffer<T> weight,
        int rows, int outDim, int inDim) where T : unmanaged
    {
        string shape = $"[rows {rows}, out {outDim}, in {inDim}]";
        Positive("linear forward", shape, ("rows", rows), ("out", outDim), ("in", inDim));
        Require("linear forward", shape, b, N("y", y, (long)rows * outDim), N("x", x, (long)rows * inDim),
            N("weight", weight, (long)outDim * inDim));
    }

    public static void LinearBackward<T>(IBackend b, BackendBuffer<T>? dx, BackendBuffer<T>? dWeight,
        BackendBuffer<T> dy, BackendBuffer<T> x, BackendBuffer<T> weight, int rows, int outDim, int inDim)
        where T : unmanaged
    {
        string shape = $"[rows {rows}, out {outDim}, in {inDim}]";
        Positive("linear backward", shape, ("rows", rows), ("out", outDim), ("in", inDim));
        Require("linear backward", shape, b, N("dx", dx, (long)rows * inDim),
            N("dWeight", dWeight, (long)outDim * inDim), N("dy", dy, (long)rows * outDim),
            N("x", x, (long)rows * inDim), N("weight", weight, (long)outDim * inDim));
    }

    public static void RmsNormForward<T>(IBackend b, BackendBuffer<T> y, BackendBuffer<T> inverseRms,
        BackendBuffer<T> x, BackendBuffer<T> gamma, int rows, int dim, double eps) where T : unmanaged
    {
        string shape = $"[rows {rows}, dim {dim}]";
        Positive("rmsnorm forward", shape, ("rows", rows), ("dim", dim));
        if (!(eps >= 0)) throw new QuantNativeException($"rmsnorm forward {shape}: eps = {eps}, expected >= 0");
        Require("rmsnorm forward", shape, b, N("y", y, (long)rows * dim), N("inverseRms", inverseRms, rows),
            N("x", x, (long)rows * dim), N("gamma", gamma, dim));
    }

    public static void RmsNormBackward<T>(IBackend b, BackendBuffer<T> dx, BackendBuffer<T>? dGamma,
        BackendBuffer<T> dy, BackendBuffer<T> x, BackendBuffer<T> inverseRms, BackendBuffer<T> gamma, int rows,
        int dim) where T : unmanaged
    {
        string shape = $"[rows {rows}, dim {dim}]";
        Positive("rmsnorm backward", shape, ("rows", rows), ("dim", dim));
        Require("rmsnorm backward", shape, b, N("dx", dx, (long)rows * dim), N("dGamma", dGamma, dim),
            N("dy", dy, (long)rows * dim), N("x", x, (long)rows * dim), N("inverseRms", inverseRms, rows),
            N("gamma", gamma, dim));
    }

    public static void Rope<T>(string op, IBackend b, BackendBuffer<T> x, int rows, int heads, int headDim,
        RopeParameters rope) where T : unmanaged
    {
        double theta = rope.Theta;
        string shape = $"[rows {rows}, heads {heads}, head dim {headDim}]";
        Positive(op, shape, ("rows", rows), ("heads", heads), ("head dim", headDim));
        if (headDim % 2 != 0) throw new QuantNativeException($"{op} {shape}: head dim must be even (rotate-half pairs)");
        if (!(theta > 0) || !double.IsFinite(theta))
            throw new QuantNativeException($"{op} {shape}: theta = {theta}, expected a positive finite base");
        Require(op, shape, b, N("x", x, (long)rows * heads * headDim));
    }

    /// <summary>", window W" for a sliding window, nothing for plain causal (0): the messages of plain causal calls
    /// stay as they were.</summary>
    public static string AttentionWindow(int window) => window != 0 ? $", window {window}" : "";

    public static string Attention(string op, int tokens, int heads, int kvHeads, int headDim, int window)
    {
        string shape = $"[tokens {tokens}, heads {heads}, kv heads {kvHeads}, head dim {headDim}" +
                       $"{AttentionWindow(window)}]";
        Positive(op, shape, ("tokens", tokens), ("heads", heads), ("kv heads", kvHeads), ("head dim", headDim));
        if (heads % kvHeads != 0)
            throw new QuantNativeException($"{op} {shape}: heads must be a multiple of kv heads (grouped queries)");
        if (window < 0)
            throw new QuantNativeException(
                $"{op} {shape}: window = {window}, expected >= 0 (0: plain causal; W: the last W keys of each query)");
        return shape;
    }

    public static void AttentionForward<T>(IBackend b, BackendBuffer<T> output, BackendBuffer<T> logSumExp,
        BackendBuffer<T> q, BackendBuffer<T> k, BackendBuffer<T> v, int tokens, int heads, int kvHeads, int headDim,
        int window) where T : unmanaged
    {
        string shape = Attention("attention forward", tokens, heads, kvHeads, headDim, window);
        long qn = (long)tokens * heads * headDim, kvn = (long)tokens * kvHeads * headDim;
        Require("attention forward", shape, b, N("output", output, qn), N("logSumExp", logSumExp, (long)heads * tokens),
            N("q", q, qn), N("k", k, kvn), N("v", v, kvn));
    }

    public static void AttentionBackward<T>(IBackend b, BackendBuffer<T> dQ, BackendBuffer<T> dK,
        BackendBuffer<T> dV, BackendBuffer<T> dOutput, BackendBuffer<T> q, BackendBuffer<T> k, BackendBuffer<T> v,
        BackendBuffer<T> logSumExp, int tokens, int heads, int kvHeads, int headDim, int window) where T : unmanaged
    {
        string shape = Attention("attention backward", tokens, heads, kvHeads, headDim, window);
        long qn = (long)tokens * heads * headDim, kvn = (long)tokens * kvHeads * headDim;
        Require("attention backward", shape, b, N("dQ", dQ, qn), N("dK", dK, kvn), N("dV", dV, kvn),
            N("dOutput", dOutput, qn), N("q", q, qn), N("k", k, kvn), N("v", v, kvn),
            N("logSumExp", logSumExp, (long)heads * tokens));
    }

    public static void AddBias<T>(IBackend b, BackendBuffer<T> y, BackendBuffer<T> bias, int rows, int cols)
        where T : unmanaged
    {
        const string op = "add bias";
        string shape = $"[rows {rows}, cols {cols}]";
        Positive(op, shape, ("rows", rows), ("cols", cols));
        Require(op, shape, b, N("y", y, (long)rows * cols), N("bias", bias, cols));
    }

    public static void Elementwise<T>(string op, IBackend b, long count,
        params (string Name, BackendBuffer<T>? Buffer)[] tensors) where T : unmanaged
    {
        string shape = $"[count {count}]";
        Positive(op, shape, ("count", count));
        Require(op, shape, b, tensors.Select(t => N(t.Name, t.Buffer, count)).ToArray());
    }

    public static void SdeColumns<T>(IBackend b, BackendBuffer<T> at, BackendBuffer<T> ut, BackendBuffer<T> e,
        BackendBuffer<int> maskRows, BackendBuffer<int> columnStarts, int entries, int active, int rows)
        where T : unmanaged
    {
        const string op = "sde columns";
        string shape = $"[entries {entries}, active {active}, rows {rows}]";
        Positive(op, shape, ("entries", entries), ("active", active), ("rows", rows));
        long n = (long)active * rows;
        Require(op, shape, b, N("at", at, n), N("ut", ut, n), N("e", e, entries), N("maskRows", maskRows, entries),
            N("columnStarts", columnStarts, active + 1L));
    }

    public static void SdeMaskedDot<T>(IBackend b, BackendBuffer<T> dE, BackendBuffer<T> ut, BackendBuffer<T> tt,
        BackendBuffer<int> maskRows, BackendBuffer<int> maskCols, int entries, int rows) where T : unmanaged
    {
        const string op = "sde masked dot";
        string shape = $"[entries {entries}, rows {rows}]";
        Positive(op, shape, ("entries", entries), ("rows", rows));
        Require(op, shape, b, N("dE", dE, entries), N("ut", ut, rows), N("tt", tt, rows),
            N("maskRows", maskRows, entries), N("maskCols", maskCols, entries));
    }
}
