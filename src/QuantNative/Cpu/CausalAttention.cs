using System.Numerics;
using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>
/// Causal grouped-query attention (DESIGN.md §7.8), scale 1/sqrt(headDim): S = Q·Kᵀ/√d, P = softmax(S) over the
/// keys at or before each query, O = P·V; query head h reads key/value head h / (heads/kvHeads).
/// The forward runs against a key/value cache: the T new queries sit at positions firstPosition..firstPosition+T−1
/// and attend to every cached position up to their own. Scores and the weighted sum are GEMMs per head over tiles
/// of queries, so only the causal part of QKᵀ is computed. For training the forward keeps one number per query
/// and head, the log-sum-exp of its scores, and the backward recomputes P = exp(S − lse) tile by tile instead of
/// saving P (heads·T² values: 512 MiB per 2048-token window at the 7B shape); the recomputation is one more
/// QKᵀ GEMM, small next to the block's linear layers.
/// </summary>
public static unsafe class CausalAttention
{
    private const int QueryTile = 256;

    /// <summary>Inference: <see cref="Forward{T}(T[], T[], T[], T[], T[], int, int, int, int, int)"/> without saved state.</summary>
    public static void Forward<T>(T[] output, T[] q, T[] kCache, T[] vCache,
        int tokens, int firstPosition, int heads, int kvHeads, int headDim) where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(output, null, q, kCache, vCache, tokens, firstPosition, heads, kvHeads, headDim);

    /// <param name="output">[T, heads·headDim]</param>
    /// <param name="logSumExp">[heads, T] or null: log Σ_j exp(S_ij) per head and query, for the backward pass</param>
    /// <param name="q">[T, heads·headDim], already rotated</param>
    /// <param name="kCache">[≥ firstPosition+T, kvHeads·headDim], rows up to firstPosition+T−1 filled</param>
    /// <param name="vCache">same layout as <paramref name="kCache"/></param>
    public static void Forward<T>(T[] output, T[]? logSumExp, T[] q, T[] kCache, T[] vCache,
        int tokens, int firstPosition, int heads, int kvHeads, int headDim) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (tokens == 0) return;
        int qWidth = heads * headDim, kvWidth = kvHeads * headDim, group = heads / kvHeads;
        T scale = Scale<T>(headDim);
        int tile = Math.Min(QueryTile, tokens);
        var scores = new T[tile * (firstPosition + tokens)];
        fixed (T* pq = q) fixed (T* pk = kCache) fixed (T* pv = vCache)
        fixed (T* po = output) fixed (T* ps = scores)
        {
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                for (int i0 = 0; i0 < tokens; i0 += tile)
                {
                    int rows = Math.Min(tile, tokens - i0);
                    int keys = firstPosition + i0 + rows; // the last query of the tile sees this many
                    Gemm.Strided(false, true, rows, keys, headDim, scale,
                        pq + (long)i0 * qWidth + h * headDim, qWidth,
                        pk + kvh * headDim, kvWidth, T.Zero, ps, keys);
                    var lse = logSumExp?.AsMemory(h * tokens + i0, rows);
                    SoftmaxCausalRows(scores, lse, rows, keys, firstPosition + i0);
                    Gemm.Strided(false, false, rows, headDim, keys, T.One,
                        ps, keys, pv + kvh * headDim, kvWidth, T.Zero,
                        po + (long)i0 * qWidth + h * headDim, qWidth);
                }
            }
        }
    }

    /// <summary>
    /// The gradients of a window that started at position 0 (the training case): dV = Pᵀ·dO, dP = dO·Vᵀ,
    /// dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS·K/√d, dK = dSᵀ·Q/√d, with dK and dV summed over the query heads
    /// that share a key/value head. dQ [T, heads·headDim], dK and dV [T, kvHeads·headDim] are overwritten.
    /// </summary>
    /// <param name="logSumExp">[heads, T], saved by the forward pass</param>
    public static void Backward<T>(T[] dQ, T[] dK, T[] dV, T[] dOutput, T[] q, T[] k, T[] v, T[] logSumExp,
        int tokens, int heads, int kvHeads, int headDim) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int qWidth = heads * headDim, kvWidth = kvHeads * headDim, group = heads / kvHeads;
        Array.Clear(dK, 0, tokens * kvWidth);
        Array.Clear(dV, 0, tokens * kvWidth);
        if (tokens == 0) return;
        T scale = Scale<T>(headDim);
        int tile = Math.Min(QueryTile, tokens);
        var p = new T[tile * tokens];
        var dP = new T[tile * tokens];
        fixed (T* pq = q) fixed (T* pk = k) fixed (T* pv = v) fixed (T* pdo = dOutput)
        fixed (T* pdq = dQ) fixed (T* pdk = dK) fixed (T* pdv = dV) fixed (T* pp = p) fixed (T* pdp = dP)
        {
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                T* qh = pq + h * headDim, doh = pdo + h * headDim, dqh = pdq + h * headDim;
                T* kh = pk + kvh * headDim, vh = pv + kvh * headDim, dkh = pdk + kvh * headDim, dvh = pdv + kvh * headDim;
                for (int i0 = 0; i0 < tokens; i0 += tile)
                {
                    int rows = Math.Min(tile, tokens - i0), keys = i0 + rows;
                    long row0 = (long)i0 * qWidth;
                    // P = exp(S − lse), recomputed.
                    Gemm.Strided(false, true, rows, keys, headDim, scale, qh + row0, qWidth, kh, kvWidth, T.Zero, pp, keys);
                    ExpCausalRows(p, logSumExp.AsMemory(h * tokens + i0, rows), rows, keys, i0);
                    // dV[0..keys) += Pᵀ·dO, dP = dO·Vᵀ.
                    Gemm.Strided(true, false, keys, headDim, rows, T.One, pp, keys, doh + row0, qWidth, T.One, dvh, kvWidth);
                    Gemm.Strided(false, true, rows, keys, headDim, T.One, doh + row0, qWidth, vh, kvWidth, T.Zero, pdp, keys);
                    SoftmaxBackwardRows(dP, p, rows, keys);
                    // dQ = dS·K/√d (each query row of each head once), dK[0..keys) += dSᵀ·Q/√d.
                    Gemm.Strided(false, false, rows, headDim, keys, scale, pdp, keys, kh, kvWidth, T.Zero, dqh + row0, qWidth);
                    Gemm.Strided(true, false, keys, headDim, rows, scale, pdp, keys, qh + row0, qWidth, T.One, dkh, kvWidth);
                }
            }
        }
    }

    private static T Scale<T>(int headDim) where T : IFloatingPointIeee754<T> => T.One / T.Sqrt(T.CreateTruncating(headDim));

    /// <summary>
    /// Row r (position firstPosition + r) keeps scores 0..firstPosition+r, softmaxed; the rest become 0.
    /// The row's log-sum-exp goes to <paramref name="logSumExp"/>[r] when given.
    /// </summary>
    private static void SoftmaxCausalRows<T>(T[] scores, Memory<T>? logSumExp, int rows, int keys, int firstPosition)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ParallelRows.For(rows, keys, r =>
        {
            var row = scores.AsSpan(r * keys, keys);
            int valid = firstPosition + r + 1;
            var live = row[..valid];
            T max = TensorPrimitives.Max<T>(live);
            TensorPrimitives.Subtract(live, max, live);
            TensorPrimitives.Exp<T>(live, live);
            T sum = TensorPrimitives.Sum<T>(live);
            TensorPrimitives.Multiply(live, T.One / sum, live);
            row[valid..].Clear();
            if (logSumExp is { } lse) lse.Span[r] = max + T.Log(sum);
        });
    }

    /// <summary>P = exp(S − lse) on the causal part of each row, 0 after it.</summary>
    private static void ExpCausalRows<T>(T[] scores, Memory<T> logSumExp, int rows, int keys, int firstPosition)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ParallelRows.For(rows, keys, r =>
        {
            var row = scores.AsSpan(r * keys, keys);
            int valid = firstPosition + r + 1;
            var live = row[..valid];
            TensorPrimitives.Subtract(live, logSumExp.Span[r], live);
            TensorPrimitives.Exp<T>(live, live);
            row[valid..].Clear();
        });
    }

    /// <summary>dS = P ⊙ (dP − rowsum(dP ⊙ P)) in place of dP; zero where P is (the masked keys).</summary>
    private static void SoftmaxBackwardRows<T>(T[] dP, T[] p, int rows, int keys) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ParallelRows.For(rows, keys, r =>
        {
            var dpr = dP.AsSpan(r * keys, keys);
            var pr = p.AsSpan(r * keys, keys);
            T dot = TensorPrimitives.Dot<T>(dpr, pr);
            TensorPrimitives.Subtract(dpr, dot, dpr);
            TensorPrimitives.Multiply(dpr, pr, dpr);
        });
    }
}
