using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>
/// Causal grouped-query attention against a key/value cache: the T new queries sit at positions
/// firstPosition..firstPosition+T−1 and attend to every cached position up to their own. Scores and the
/// weighted sum are OpenBLAS GEMMs per head over tiles of queries, so only the causal part of QKᵀ is computed.
/// </summary>
public static unsafe class CausalAttention
{
    private const int QueryTile = 256;

    /// <param name="output">[T, heads·headDim]</param>
    /// <param name="q">[T, heads·headDim], already rotated</param>
    /// <param name="kCache">[≥ firstPosition+T, kvHeads·headDim], rows up to firstPosition+T−1 filled</param>
    /// <param name="vCache">same layout as <paramref name="kCache"/></param>
    public static void Forward(float[] output, float[] q, float[] kCache, float[] vCache,
        int tokens, int firstPosition, int heads, int kvHeads, int headDim)
    {
        int qWidth = heads * headDim, kvWidth = kvHeads * headDim, group = heads / kvHeads;
        float scale = 1f / MathF.Sqrt(headDim);
        int tile = Math.Min(QueryTile, tokens);
        var scores = new float[tile * (firstPosition + tokens)];
        fixed (float* pq = q) fixed (float* pk = kCache) fixed (float* pv = vCache)
        fixed (float* po = output) fixed (float* ps = scores)
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
                        pk + kvh * headDim, kvWidth, 0f, ps, keys);
                    SoftmaxCausalRows(scores, rows, keys, firstPosition + i0);
                    Gemm.Strided(false, false, rows, headDim, keys, 1f,
                        ps, keys, pv + kvh * headDim, kvWidth, 0f,
                        po + (long)i0 * qWidth + h * headDim, qWidth);
                }
            }
        }
    }

    /// <summary>Row r (position firstPosition + r) keeps scores 0..firstPosition+r, softmaxed; the rest become 0.</summary>
    private static void SoftmaxCausalRows(float[] scores, int rows, int keys, int firstPosition)
    {
        ParallelRows.For(rows, keys, r =>
        {
            var row = scores.AsSpan(r * keys, keys);
            int valid = firstPosition + r + 1;
            var live = row[..valid];
            float max = TensorPrimitives.Max(live);
            TensorPrimitives.Subtract(live, max, live);
            TensorPrimitives.Exp(live, live);
            float sum = TensorPrimitives.Sum(live);
            TensorPrimitives.Multiply(live, 1f / sum, live);
            row[valid..].Clear();
        });
    }
}
