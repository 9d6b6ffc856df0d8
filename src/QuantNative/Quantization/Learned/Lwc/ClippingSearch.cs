using QuantNative.Cpu;

namespace QuantNative.Quantization.Learned.Lwc;

/// <summary>
/// A starting point for learnable clipping (<c>--lwc-init-search</c>) in place of σ(4): per group, the clipping factors
/// that minimize the importance-weighted error Σ imp_c·(w − ŵ)² of the fake quantizer itself, imp_c the calibration
/// inputs' Σx² of input column c (the diagonal of XᵀX, the weight llama.cpp's importance-matrix quantizer gives a
/// column). γ and β are searched by coordinate descent over 0.80 … 0.9995 (41 values), two rounds, from the current
/// parameters, keeping a value only when it lowers the error; the symmetric grid searches γ alone.
/// </summary>
public static class ClippingSearch
{
    private static readonly float[] Candidates = MakeCandidates();

    private static float[] MakeCandidates()
    {
        var u = new float[41];
        for (int k = 0; k < u.Length; k++)
        {
            double gamma = k == 0 ? 0.9995 : 1 - 0.005 * k; // 0.9995, 0.995, …, 0.80
            u[k] = (float)Math.Log(gamma / (1 - gamma));
        }
        return u;
    }

    /// <summary>Moves <paramref name="lwc"/>'s u, l to the search's result; <paramref name="importance"/>[columns]
    /// (null or all zero: unchanged). Returns the weighted error before and after, summed over the matrix.</summary>
    public static (double Before, double After) Initialize(LwcLinear lwc, float[]? importance)
    {
        var shape = lwc.Shape;
        if (importance == null || !importance.Any(v => v > 0)) return (0, 0);
        if (importance.Length != shape.Cols)
            throw new InvalidOperationException($"{lwc.Name}: importance of {importance.Length} columns for {shape.Cols}");
        var rowBefore = new double[shape.Rows];
        var rowAfter = new double[shape.Rows];
        // Rows are independent (each writes only its own groups' u, l), so they run in parallel with the same result.
        ParallelRows.For(shape.Rows, 4L * Candidates.Length * shape.Cols, r =>
        {
            for (int j = 0; j < shape.Groups; j++)
            {
                var (before, after) = Search(lwc, importance, r * shape.Groups + j, r * shape.Cols, j);
                rowBefore[r] += before;
                rowAfter[r] += after;
            }
        });
        return (rowBefore.Sum(), rowAfter.Sum());
    }

    /// <summary>Group j (parameter index p) of the row starting at element <paramref name="rowStart"/>: u[p], l[p] moved
    /// to the search's result; its weighted error at the start and after.</summary>
    private static (double Before, double After) Search(LwcLinear lwc, float[] importance, int p, int rowStart, int j)
    {
        var shape = lwc.Shape;
        float[] u = lwc.U.Value, l = lwc.L.Value;
        int start = shape.Layout.StartOf(j), length = shape.Layout.LengthOf(j);
        var w = lwc.Weights.AsSpan(rowStart + start, length);
        var imp = importance.AsSpan(start, length);
        float maxW = float.NegativeInfinity, minW = float.PositiveInfinity;
        foreach (float v in w) { maxW = MathF.Max(maxW, v); minW = MathF.Min(minW, v); }
        double before = Error(w, imp, u[p], l[p], maxW, minW, shape), best = before;
        for (int round = 0; round < 2; round++)
        for (int side = 0; side < (shape.Symmetric ? 1 : 2); side++)
            foreach (float candidate in Candidates)
            {
                float cu = side == 0 ? candidate : u[p], cl = side == 1 ? candidate : l[p];
                double e = Error(w, imp, cu, cl, maxW, minW, shape);
                if (e < best) (best, u[p], l[p]) = (e, cu, cl);
            }
        return (before, best);
    }

    /// <summary>Σ imp·(w − ŵ)² of one group under the fake quantizer with parameters (u, l).</summary>
    private static double Error(ReadOnlySpan<float> w, ReadOnlySpan<float> imp, float u, float l, float maxW, float minW,
        LwcShape shape)
    {
        var clamp = ScaleClamp.Default;
        var (_, beta, raw, negative) = LwcFakeQuant.Group(u, l, maxW, minW, shape);
        float s = MathF.Min(MathF.Max(raw, clamp.Min), clamp.Max);
        float z = LwcFakeQuant.Zero(beta, minW, s, negative, shape);
        double e = 0;
        for (int i = 0; i < w.Length; i++)
        {
            double d = w[i] - LwcFakeQuant.FakeQuantize(w[i], s, z, shape);
            e += imp[i] * d * d;
        }
        return e;
    }
}
