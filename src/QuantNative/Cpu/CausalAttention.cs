using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace QuantNative.Cpu;

/// <summary>
/// Causal grouped-query attention (DESIGN.md §7.8), scale 1/sqrt(headDim): S = Q·Kᵀ/√d, P = softmax(S) over the
/// keys at or before each query, O = P·V; query head h reads key/value head h / (heads/kvHeads).
/// A sliding window W > 0 (Mistral; Transformers' kv_idx > q_idx − sliding_window) keeps only the last W keys of
/// each query, itself included: query i attends to keys j with i − W &lt; j ≤ i; W = 0 is plain causal.
/// The forward runs against a key/value cache: the T new queries sit at positions firstPosition..firstPosition+T−1
/// and attend to the cached positions up to their own (the window counts absolute positions, so a decoded token
/// sees the same keys it would see in the whole sequence). Scores and the weighted sum are GEMMs per head over tiles
/// of queries, each over the keys some query of the tile can see, so only the live part of QKᵀ is computed
/// (with a window: at most tile + W − 1 keys per tile). For training the forward keeps one number per query
/// and head, the log-sum-exp of its scores, and the backward recomputes P = exp(S − lse) tile by tile instead of
/// saving P (heads·T² values: 512 MiB per 2048-token window at the 7B shape); the recomputation is one more
/// QKᵀ GEMM, small next to the block's linear layers.
/// </summary>
public static unsafe class CausalAttention
{
    private const int QueryTile = 256;

    /// <summary>Inference: <see cref="Forward{T}(T[], T[], T[], T[], T[], int, int, int, int, int, int)"/> without
    /// saved state.</summary>
    public static void Forward<T>(T[] output, T[] q, T[] kCache, T[] vCache, int tokens, int firstPosition, int heads,
        int kvHeads, int headDim, int window = 0) where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(output, null, q, kCache, vCache, tokens, firstPosition, heads, kvHeads, headDim, window);

    /// <param name="output">[T, heads·headDim]</param>
    /// <param name="logSumExp">[heads, T] or null: log Σ_j exp(S_ij) per head and query, for the backward pass</param>
    /// <param name="q">[T, heads·headDim], already rotated</param>
    /// <param name="kCache">[≥ firstPosition+T, kvHeads·headDim], rows up to firstPosition+T−1 filled</param>
    /// <param name="vCache">same layout as <paramref name="kCache"/></param>
    /// <param name="window">0: plain causal; W &gt; 0: each query sees its last W positions, itself included</param>
    public static void Forward<T>(T[] output, T[]? logSumExp, T[] q, T[] kCache, T[] vCache, int tokens,
        int firstPosition, int heads, int kvHeads, int headDim, int window = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireWindow(window);
        if (tokens == 0) return;
        if (tokens == 1 && logSumExp == null)
        {
            DecodeStep(output, q, kCache, vCache, firstPosition, heads, kvHeads, headDim, window);
            return;
        }
        int qWidth = heads * headDim, kvWidth = kvHeads * headDim, group = heads / kvHeads;
        T scale = Scale<T>(headDim);
        int tile = Math.Min(QueryTile, tokens);
        var scores = new T[tile * (firstPosition + tokens)]; // the widest tile's keys, window or not
        fixed (T* pq = q) fixed (T* pk = kCache) fixed (T* pv = vCache)
        fixed (T* po = output) fixed (T* ps = scores)
        {
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                for (int i0 = 0; i0 < tokens; i0 += tile)
                {
                    int rows = Math.Min(tile, tokens - i0);
                    // Keys first..end−1: from the first query's earliest key to the last query itself.
                    var live = new LiveKeys(firstPosition + i0, rows, window);
                    int keys = live.Count;
                    long firstKey = (long)live.First * kvWidth + kvh * headDim;
                    Gemm.Strided(false, true, rows, keys, headDim, scale,
                        pq + (long)i0 * qWidth + h * headDim, qWidth,
                        pk + firstKey, kvWidth, T.Zero, ps, keys);
                    var lse = logSumExp?.AsMemory(h * tokens + i0, rows);
                    SoftmaxCausalRows(scores, lse, rows, live);
                    Gemm.Strided(false, false, rows, headDim, keys, T.One,
                        ps, keys, pv + firstKey, kvWidth, T.Zero,
                        po + (long)i0 * qWidth + h * headDim, qWidth);
                }
            }
        }
    }

    /// <summary>
    /// One decoded token (the query at <paramref name="position"/>): per head, its scores against the live keys as dot
    /// products, the softmax as <see cref="SoftmaxCausalRows"/> computes it, and O = Σ_j P_j·V_j, heads in parallel.
    /// The two one-row GEMMs per head it replaces cost more in call overhead than in arithmetic (≈ 100 µs per layer,
    /// 2.3 ms of a TinyLlama token, on one thread); the sums are reordered, nothing else
    /// (SlidingWindowAttentionTests.DecodeOverTheCache_EqualsTheWholeSequence).
    /// </summary>
    private static void DecodeStep<T>(T[] output, T[] q, T[] kCache, T[] vCache, int position, int heads, int kvHeads,
        int headDim, int window) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            DecodeStepFloat((float[])(object)output, (float[])(object)q, (float[])(object)kCache, (float[])(object)vCache,
                position, heads, kvHeads, headDim, window);
            return;
        }
        int kvWidth = kvHeads * headDim, group = heads / kvHeads;
        T scale = Scale<T>(headDim);
        var live = new LiveKeys(position, 1, window);
        int keys = live.Count, first = live.First;
        var scores = new T[(long)heads * keys];
        ParallelRows.For(heads, 2L * keys * headDim, h =>
        {
            var query = q.AsSpan(h * headDim, headDim);
            var row = scores.AsSpan(h * keys, keys);
            int offset = h / group * headDim;
            for (int j = 0; j < keys; j++)
                row[j] = TensorPrimitives.Dot<T>(query, kCache.AsSpan((first + j) * kvWidth + offset, headDim)) * scale;
            T max = TensorPrimitives.Max<T>(row);
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp<T>(row, row);
            T sum = TensorPrimitives.Sum<T>(row);
            TensorPrimitives.Multiply(row, T.One / sum, row);
            var o = output.AsSpan(h * headDim, headDim);
            o.Clear();
            for (int j = 0; j < keys; j++)
                TensorPrimitives.MultiplyAdd<T>(vCache.AsSpan((first + j) * kvWidth + offset, headDim), row[j], o, o);
        });
    }

    /// <summary>
    /// <see cref="DecodeStep{T}"/> in float32 with the head's vectors in registers: the dot products and the weighted sum
    /// over a head dimension of 64 are a few vector operations each, where TensorPrimitives' per-call cost (two calls
    /// per key and head, ≈ 2,600 a layer) was most of the 83 µs a TinyLlama layer's attention took. The softmax is the
    /// same (max, exp of the difference, one reciprocal of the sum); the sums are reordered
    /// (AttentionDecodeTests: within Fp32VsFloat64OpRel of the double path).
    /// </summary>
    private static void DecodeStepFloat(float[] output, float[] q, float[] kCache, float[] vCache, int position, int heads,
        int kvHeads, int headDim, int window)
    {
        int kvWidth = kvHeads * headDim, group = heads / kvHeads;
        float scale = Scale<float>(headDim);
        var live = new LiveKeys(position, 1, window);
        int keys = live.Count, first = live.First;
        var scores = new float[(long)heads * keys];
        fixed (float* pq = q) fixed (float* pk = kCache) fixed (float* pv = vCache) fixed (float* po = output) fixed (float* ps = scores)
        {
            float* qs = pq, ks = pk + (long)first * kvWidth, vs = pv + (long)first * kvWidth, os = po, ss = ps;
            ParallelRows.For(heads, 2L * keys * headDim, h =>
            {
                float* query = qs + h * headDim, row = ss + (long)h * keys, o = os + h * headDim;
                int offset = h / group * headDim;
                float max = float.NegativeInfinity;
                for (int j = 0; j < keys; j++)
                {
                    float dot = Dot(query, ks + (long)j * kvWidth + offset, headDim) * scale;
                    row[j] = dot;
                    max = MathF.Max(max, dot);
                }
                float sum = 0;
                for (int j = 0; j < keys; j++) sum += row[j] = MathF.Exp(row[j] - max);
                float inverse = 1f / sum;
                new Span<float>(o, headDim).Clear();
                for (int j = 0; j < keys; j++) Axpy(row[j] * inverse, vs + (long)j * kvWidth + offset, o, headDim);
            });
        }
    }

    private static float Dot(float* a, float* b, int n)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y += a·x.</summary>
    private static void Axpy(float a, float* x, float* y, int n)
    {
        var va = Vector256.Create(a);
        int i = 0;
        for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += a * x[i];
    }

    /// <summary>
    /// The gradients of a window that started at position 0 (the training case): dV = Pᵀ·dO, dP = dO·Vᵀ,
    /// dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS·K/√d, dK = dSᵀ·Q/√d, with dK and dV summed over the query heads
    /// that share a key/value head. dQ [T, heads·headDim], dK and dV [T, kvHeads·headDim] are overwritten.
    /// </summary>
    /// <param name="logSumExp">[heads, T], saved by the forward pass</param>
    /// <param name="window">the forward's window (0: plain causal)</param>
    public static void Backward<T>(T[] dQ, T[] dK, T[] dV, T[] dOutput, T[] q, T[] k, T[] v, T[] logSumExp,
        int tokens, int heads, int kvHeads, int headDim, int window = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireWindow(window);
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
                    int rows = Math.Min(tile, tokens - i0);
                    var live = new LiveKeys(i0, rows, window);
                    int keys = live.Count;
                    long row0 = (long)i0 * qWidth, key0 = (long)live.First * kvWidth; // the tile's keys start at key0
                    // P = exp(S − lse), recomputed.
                    Gemm.Strided(false, true, rows, keys, headDim, scale, qh + row0, qWidth, kh + key0, kvWidth, T.Zero, pp, keys);
                    ExpCausalRows(p, logSumExp.AsMemory(h * tokens + i0, rows), rows, live);
                    // dV[first..end) += Pᵀ·dO, dP = dO·Vᵀ.
                    Gemm.Strided(true, false, keys, headDim, rows, T.One, pp, keys, doh + row0, qWidth, T.One, dvh + key0, kvWidth);
                    Gemm.Strided(false, true, rows, keys, headDim, T.One, doh + row0, qWidth, vh + key0, kvWidth, T.Zero, pdp, keys);
                    SoftmaxBackwardRows(dP, p, rows, keys);
                    // dQ = dS·K/√d (each query row of each head once), dK[first..end) += dSᵀ·Q/√d.
                    Gemm.Strided(false, false, rows, headDim, keys, scale, pdp, keys, kh + key0, kvWidth, T.Zero, dqh + row0, qWidth);
                    Gemm.Strided(true, false, keys, headDim, rows, scale, pdp, keys, qh + row0, qWidth, T.One, dkh + key0, kvWidth);
                }
            }
        }
    }

    private static T Scale<T>(int headDim) where T : IFloatingPointIeee754<T> => T.One / T.Sqrt(T.CreateTruncating(headDim));

    private static void RequireWindow(int window)
    {
        if (window < 0)
            throw new ArgumentOutOfRangeException(nameof(window), window,
                "attention window must be >= 0 (0: plain causal; W: the last W keys of each query)");
    }

    /// <summary>
    /// The keys a tile of queries at positions position0..position0+rows−1 can see, as one range
    /// [First, First + Count) of absolute key positions: from the first query's earliest key (0 without a window) to
    /// the last query itself. <see cref="Row"/> narrows it to one query, relative to First.
    /// </summary>
    private readonly struct LiveKeys
    {
        private readonly int _position0, _window;

        public LiveKeys(int position0, int rows, int window)
        {
            (_position0, _window) = (position0, window);
            First = EarliestKey(position0, window);
            Count = position0 + rows - First;
        }

        public int First { get; }
        public int Count { get; }

        /// <summary>The scores row r (position position0 + r) keeps, as [Start, End) within the tile's keys.</summary>
        public (int Start, int End) Row(int r) =>
            (EarliestKey(_position0 + r, _window) - First, _position0 + r + 1 - First);

        // i − W < j: the earliest key is i − W + 1 (no overflow: i ≥ 0 and W ≤ int.MaxValue).
        private static int EarliestKey(int position, int window) => window == 0 ? 0 : Math.Max(0, position - window + 1);
    }

    /// <summary>
    /// Row r keeps its live scores (<see cref="LiveKeys.Row"/>), softmaxed; the rest become 0.
    /// The row's log-sum-exp goes to <paramref name="logSumExp"/>[r] when given.
    /// </summary>
    private static void SoftmaxCausalRows<T>(T[] scores, Memory<T>? logSumExp, int rows, LiveKeys keys)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = keys.Count;
        ParallelRows.For(rows, width, r =>
        {
            var live = LiveRow(scores, r, width, keys.Row(r));
            T max = TensorPrimitives.Max<T>(live);
            TensorPrimitives.Subtract(live, max, live);
            TensorPrimitives.Exp<T>(live, live);
            T sum = TensorPrimitives.Sum<T>(live);
            TensorPrimitives.Multiply(live, T.One / sum, live);
            if (logSumExp is { } lse) lse.Span[r] = max + T.Log(sum);
        });
    }

    /// <summary>P = exp(S − lse) on the live part of each row, 0 elsewhere.</summary>
    private static void ExpCausalRows<T>(T[] scores, Memory<T> logSumExp, int rows, LiveKeys keys)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = keys.Count;
        ParallelRows.For(rows, width, r =>
        {
            var live = LiveRow(scores, r, width, keys.Row(r));
            TensorPrimitives.Subtract(live, logSumExp.Span[r], live);
            TensorPrimitives.Exp<T>(live, live);
        });
    }

    /// <summary>Row r of the [rows, width] scores with the masked keys on both sides zeroed (probability 0); returns
    /// the live part.</summary>
    private static Span<T> LiveRow<T>(T[] scores, int r, int width, (int Start, int End) live)
    {
        var row = scores.AsSpan(r * width, width);
        row[..live.Start].Clear();
        row[live.End..].Clear();
        return row[live.Start..live.End];
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
