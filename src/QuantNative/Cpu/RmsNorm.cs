using System.Numerics;
using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>
/// RMSNorm over the last dimension: y = γ ⊙ x / r with r = sqrt(mean(x²) + eps) (DESIGN.md §7.8), forward and
/// backward. Generic over float (the fast path) and double (the finite-difference reference); sums of squares and
/// the backward's row dot product accumulate in double for either.
/// </summary>
public static class RmsNorm
{
    /// <summary>Normalizes each of the <paramref name="rows"/> rows of x [rows, dim] into y (inference: nothing saved).</summary>
    public static void Forward<T>(T[] y, T[] x, T[] gamma, int rows, int dim, double eps)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(y, null, x, gamma, rows, dim, eps);

    /// <summary>
    /// y [rows, dim] = γ ⊙ x / r per row; <paramref name="inverseRms"/> [rows], when given, keeps 1/r for the
    /// backward pass (with x, that is all it needs). y may alias x.
    /// </summary>
    public static void Forward<T>(T[] y, T[]? inverseRms, T[] x, T[] gamma, int rows, int dim, double eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ParallelRows.For(rows, dim, r =>
        {
            var xr = x.AsSpan(r * dim, dim);
            var yr = y.AsSpan(r * dim, dim);
            T inv = InverseRms(xr, eps);
            if (inverseRms != null) inverseRms[r] = inv;
            TensorPrimitives.Multiply(xr, inv, yr);
            TensorPrimitives.Multiply(yr, gamma, yr);
        });
    }

    /// <summary>
    /// dx = (γ ⊙ dy)/r − x·mean(x ⊙ γ ⊙ dy)/r³ per row (added to dx when <paramref name="accumulateInput"/>);
    /// dγ = Σ_rows dy ⊙ x / r (added to dγ when <paramref name="accumulateParameters"/>; skipped when null).
    /// dx may alias dy when it does not accumulate.
    /// </summary>
    public static void Backward<T>(T[] dx, T[]? dGamma, T[] dy, T[] x, T[] inverseRms, T[] gamma, int rows, int dim,
        bool accumulateInput = false, bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dGamma != null)
        {
            // Before dx, which may overwrite dy. Rows in order, so the sum is the same on every run; O(rows·dim),
            // negligible next to the GEMMs.
            if (!accumulateParameters) Array.Clear(dGamma, 0, dim);
            for (int r = 0; r < rows; r++)
            {
                T inv = inverseRms[r];
                var xr = x.AsSpan(r * dim, dim);
                var dyr = dy.AsSpan(r * dim, dim);
                for (int j = 0; j < dim; j++) dGamma[j] += dyr[j] * xr[j] * inv;
            }
        }
        ParallelRows.For(rows, dim, r =>
        {
            var xr = x.AsSpan(r * dim, dim);
            var dyr = dy.AsSpan(r * dim, dim);
            var dxr = dx.AsSpan(r * dim, dim);
            T inv = inverseRms[r];
            double dot = 0;
            for (int j = 0; j < dim; j++) dot += double.CreateTruncating(xr[j] * gamma[j] * dyr[j]);
            // x·mean(x⊙γ⊙dy)/r³ = x·c with c = dot/dim·inv³.
            T c = T.CreateTruncating(dot / dim) * inv * inv * inv;
            for (int j = 0; j < dim; j++)
            {
                T g = gamma[j] * dyr[j] * inv - xr[j] * c;
                dxr[j] = accumulateInput ? dxr[j] + g : g;
            }
        });
    }

    /// <summary>1 / sqrt(mean(x²) + eps), the sum of squares accumulated in double for long rows.</summary>
    public static T InverseRms<T>(ReadOnlySpan<T> x, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double ss = 0;
        foreach (T v in x) { double d = double.CreateTruncating(v); ss += d * d; }
        return T.CreateTruncating(1.0 / Math.Sqrt(ss / x.Length + eps));
    }
}
