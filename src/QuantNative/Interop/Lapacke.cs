using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>
/// LAPACKE's C entry points (C names verbatim) that the CPU paths use. Call <see cref="EnsureLoaded"/> before the first
/// use so a missing library is a clear error, and pass every return value through <see cref="Check"/>.
/// </summary>
public static unsafe partial class Lapacke
{
    public const int LAPACK_ROW_MAJOR = 101;
    public const int LAPACK_COL_MAJOR = 102;

    /// <summary>Cholesky factorization of a symmetric positive-definite matrix (one triangle read and written).</summary>
    [LibraryImport(NativeLibraries.Lapacke)]
    public static partial int LAPACKE_dpotrf(int matrixLayout, byte uplo, int n, double* a, int lda);

    /// <summary>Inverse of a symmetric positive-definite matrix from its Cholesky factor (same triangle).</summary>
    [LibraryImport(NativeLibraries.Lapacke)]
    public static partial int LAPACKE_dpotri(int matrixLayout, byte uplo, int n, double* a, int lda);

    /// <summary>Thin SVD by divide and conquer (jobz 'S': the min(m, n) leading singular vectors), A overwritten.</summary>
    [LibraryImport(NativeLibraries.Lapacke)]
    public static partial int LAPACKE_sgesdd(int matrixLayout, byte jobz, int m, int n, float* a, int lda, float* s,
        float* u, int ldu, float* vt, int ldvt);

    /// <summary>Loads LAPACKE or throws a QuantNativeException that says how to install it.</summary>
    public static void EnsureLoaded() => NativeLibraries.Require(NativeLibraries.Lapacke);

    /// <summary>
    /// LAPACK's info convention: 0 is success, −i means argument i was illegal (a bug here), +i is a property of the
    /// data (for potrf: the leading minor of order i is not positive definite).
    /// </summary>
    public static void Check(int info, string call)
    {
        if (info == 0) return;
        string meaning = info < 0
            ? $"argument {-info} had an illegal value"
            : $"data-dependent failure at index {info} (for potrf/potri: the matrix is not positive definite there)";
        throw new QuantNativeException($"{call} failed with info = {info}: {meaning}");
    }
}
