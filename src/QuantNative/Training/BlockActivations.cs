using System.Numerics;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// What <see cref="TrainingBlock.Forward"/> keeps for <see cref="TrainingBlock.Backward"/>, for one window of up to
/// <see cref="Capacity"/> tokens. Per window of T tokens: six [T, hidden] tensors (the input x, n1(x), the rotated
/// queries, the attention output, h, n2(h)), two [T, kvDim] (the rotated keys, the values), three
/// [T, intermediate] (gate a, up b, silu(a)⊙b), and two [T] plus one [heads, T] vectors (the two norms' 1/r, the
/// attention's log-sum-exp). At the 7B shape and T = 512 that is 33.6M values, 134 MB in fp32. The attention
/// probabilities are not kept (heads·T² values); the backward recomputes them from Q, K and the log-sum-exp.
/// </summary>
public sealed class BlockActivations<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Capacity { get; }
    /// <summary>The tokens of the window last run forward.</summary>
    public int Tokens { get; internal set; }

    public T[] Input { get; }          // x [T, hidden], a copy: the caller may reuse its buffer
    public T[] InverseRms1 { get; }    // [T]
    public T[] Normed1 { get; }        // n1(x) [T, hidden]
    public T[] Q { get; }              // [T, hidden], rotated
    public T[] K { get; }              // [T, kvDim], rotated
    public T[] V { get; }              // [T, kvDim]
    public T[] LogSumExp { get; }      // [heads, T]
    public T[] Attention { get; }      // [T, hidden], before Wo
    public T[] H { get; }              // x + Wo·attention [T, hidden]
    public T[] InverseRms2 { get; }    // [T]
    public T[] Normed2 { get; }        // n2(h) [T, hidden]
    public T[] Gate { get; }           // a = n2(h)·W1ᵀ [T, intermediate]
    public T[] Up { get; }             // b = n2(h)·W3ᵀ [T, intermediate]
    public T[] Mlp { get; }            // silu(a)⊙b [T, intermediate]

    public BlockActivations(LlamaConfig c, int capacity)
    {
        Capacity = capacity;
        long t = capacity, d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize;
        Input = new T[t * d]; InverseRms1 = new T[t]; Normed1 = new T[t * d];
        Q = new T[t * d]; K = new T[t * kv]; V = new T[t * kv]; LogSumExp = new T[c.NumHeads * t];
        Attention = new T[t * d]; H = new T[t * d]; InverseRms2 = new T[t]; Normed2 = new T[t * d];
        Gate = new T[t * f]; Up = new T[t * f]; Mlp = new T[t * f];
    }

    /// <summary>Values kept per window of <paramref name="tokens"/> tokens (see the class comment).</summary>
    public static long ValuesPerWindow(LlamaConfig c, long tokens) =>
        tokens * (6L * c.HiddenSize + 2L * c.KvDim + 3L * c.IntermediateSize + 2 + c.NumHeads);
}
