using QuantNative.Interop;

namespace QuantNative.Quantization.Gptq;

/// <summary>
/// GPTQ's U: the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), which holds every inverse-Hessian row the column-by-column
/// updates need. Computed as GPTQ does — Cholesky of H, inverse from the factor, Cholesky of the inverse — in float64.
/// </summary>
internal static unsafe class InverseHessianFactor
{
    /// <summary>
    /// Replaces the upper triangle of the symmetric positive-definite h [n, n] (row-major) by U; the strict lower
    /// triangle is left with scratch values and must not be read.
    /// </summary>
    public static void UpperOfInverseInPlace(double[] h, int n, string tensor)
    {
        Lapacke.EnsureLoaded();
        fixed (double* a = h)
        {
            Lapacke.Check(Lapacke.LAPACKE_dpotrf(Lapacke.LAPACK_ROW_MAJOR, (byte)'U', n, a, n),
                $"LAPACKE_dpotrf (Cholesky of the damped Hessian of {tensor}; raise the dampening)");
            Lapacke.Check(Lapacke.LAPACKE_dpotri(Lapacke.LAPACK_ROW_MAJOR, (byte)'U', n, a, n),
                $"LAPACKE_dpotri (inverse of the Hessian of {tensor})");
            Lapacke.Check(Lapacke.LAPACKE_dpotrf(Lapacke.LAPACK_ROW_MAJOR, (byte)'U', n, a, n),
                $"LAPACKE_dpotrf (Cholesky of the inverse Hessian of {tensor})");
        }
    }
}
