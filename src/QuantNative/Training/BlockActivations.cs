using System.Numerics;
using QuantNative.Backends;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// What <see cref="TrainingBlock.Forward"/> keeps for <see cref="TrainingBlock.Backward"/>, for one window of up to
/// <see cref="Capacity"/> tokens, in buffers of one backend. Per window of T tokens: four [T, hidden] tensors (the
/// input x, n1(x), h, n2(h)), two [T, heads·headDim] (the rotated queries, the attention output), two [T, kvDim] (the
/// rotated keys, the values), three [T, intermediate] (gate a, up b, silu(a)⊙b), and two [T] plus one [heads, T]
/// vectors (the two norms' 1/r, the attention's log-sum-exp); with Qwen3's q/k norms also the projections before them
/// and their 1/r per head. At the 7B shape and T = 512 that is 33.6M values, 134 MB in fp32. The
/// attention probabilities are not kept (heads·T² values); the backward recomputes them from Q, K and the
/// log-sum-exp.
/// </summary>
public sealed class BlockActivations<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    public IBackend Backend { get; }
    public int Capacity { get; }
    /// <summary>The tokens of the window last run forward.</summary>
    public int Tokens { get; internal set; }

    public BackendBuffer<T> Input { get; }          // x [T, hidden], a copy: the caller may reuse its buffer
    public BackendBuffer<T> InverseRms1 { get; }    // [T]
    public BackendBuffer<T> Normed1 { get; }        // n1(x) [T, hidden]
    public BackendBuffer<T> Q { get; }              // [T, heads·headDim], (normed and) rotated
    public BackendBuffer<T> K { get; }              // [T, kvDim], rotated
    public BackendBuffer<T> V { get; }              // [T, kvDim]
    public BackendBuffer<T> LogSumExp { get; }      // [heads, T]
    public BackendBuffer<T> Attention { get; }      // [T, heads·headDim], before Wo
    public BackendBuffer<T>? QRaw { get; }          // [T, heads·headDim]: n1·Wqᵀ + bq before q_norm (Qwen3 only)
    public BackendBuffer<T>? KRaw { get; }          // [T, kvDim] before k_norm
    public BackendBuffer<T>? InverseRmsQ { get; }   // [T·heads]: q_norm's 1/r per head
    public BackendBuffer<T>? InverseRmsK { get; }   // [T·kvHeads]
    public BackendBuffer<T> H { get; }              // x + Wo·attention [T, hidden]
    public BackendBuffer<T> InverseRms2 { get; }    // [T]
    public BackendBuffer<T> Normed2 { get; }        // n2(h) [T, hidden]
    public BackendBuffer<T> Gate { get; }           // a = n2(h)·W1ᵀ [T, intermediate]
    public BackendBuffer<T> Up { get; }             // b = n2(h)·W3ᵀ [T, intermediate]
    public BackendBuffer<T> Mlp { get; }            // silu(a)⊙b [T, intermediate]

    /// <summary>On the CPU (<see cref="CpuBackend.Shared"/>), for the array overloads of <see cref="TrainingBlock"/>.</summary>
    public BlockActivations(LlamaConfig c, int capacity) : this(CpuBackend.Shared, c, capacity) { }

    public BlockActivations(IBackend backend, LlamaConfig c, int capacity)
    {
        Backend = backend;
        Capacity = capacity;
        long t = capacity, d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, qd = c.QDim;
        BackendBuffer<T> A(long n) => backend.Allocate<T>(n);
        Input = A(t * d); InverseRms1 = A(t); Normed1 = A(t * d);
        Q = A(t * qd); K = A(t * kv); V = A(t * kv); LogSumExp = A(c.NumHeads * t);
        Attention = A(t * qd); H = A(t * d); InverseRms2 = A(t); Normed2 = A(t * d);
        Gate = A(t * f); Up = A(t * f); Mlp = A(t * f);
        if (c.QkNorm)
        {
            QRaw = A(t * qd); KRaw = A(t * kv); InverseRmsQ = A(t * c.NumHeads); InverseRmsK = A(t * c.NumKvHeads);
        }
    }

    /// <summary>Values kept per window of <paramref name="tokens"/> tokens (see the class comment).</summary>
    public static long ValuesPerWindow(LlamaConfig c, long tokens) =>
        tokens * (4L * c.HiddenSize + 2L * c.QDim + 2L * c.KvDim + 3L * c.IntermediateSize + 2 + c.NumHeads +
                  (c.QkNorm ? c.QDim + c.KvDim + c.NumHeads + c.NumKvHeads : 0));

    public void Dispose()
    {
        foreach (var b in new[] { Input, InverseRms1, Normed1, Q, K, V, LogSumExp, Attention, H, InverseRms2, Normed2,
                     Gate, Up, Mlp, QRaw, KRaw, InverseRmsQ, InverseRmsK })
            b?.Dispose();
    }
}
