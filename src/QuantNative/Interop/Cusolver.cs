using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>
/// cuSOLVER dense (libcusolver.so.12/.11), C names verbatim: Jacobi SVD (single and batched, for many small
/// matrices) and QR-based gesvd (large ones). Column-major; gesvd needs m ≥ n. Pass every status through
/// <see cref="Check"/>; the devInfo output of each solver call is a data result the caller checks.
/// </summary>
public static unsafe partial class Cusolver
{
    public const int CUSOLVER_STATUS_SUCCESS = 0;
    /// <summary>cusolverEigMode_t.</summary>
    public const int CUSOLVER_EIG_MODE_NOVECTOR = 0;
    public const int CUSOLVER_EIG_MODE_VECTOR = 1;

    /// <summary>libraryPropertyType: MAJOR_VERSION 0, MINOR_VERSION 1, PATCH_LEVEL 2.</summary>
    [LibraryImport(NativeLibraries.Cusolver)] public static partial int cusolverGetProperty(int type, int* value);
    [LibraryImport(NativeLibraries.Cusolver)] public static partial int cusolverDnCreate(IntPtr* handle);
    [LibraryImport(NativeLibraries.Cusolver)] public static partial int cusolverDnDestroy(IntPtr handle);
    [LibraryImport(NativeLibraries.Cusolver)] public static partial int cusolverDnSetStream(IntPtr handle, IntPtr streamId);
    [LibraryImport(NativeLibraries.Cusolver)] public static partial int cusolverDnCreateGesvdjInfo(IntPtr* info);
    [LibraryImport(NativeLibraries.Cusolver)] public static partial int cusolverDnDestroyGesvdjInfo(IntPtr info);

    /// <summary>sort_svd 1 (the default): singular values in descending order, vectors permuted with them.</summary>
    [LibraryImport(NativeLibraries.Cusolver)] public static partial int cusolverDnXgesvdjSetSortEig(IntPtr info, int sortSvd);

    [LibraryImport(NativeLibraries.Cusolver)]
    public static partial int cusolverDnSgesvdj_bufferSize(IntPtr handle, int jobz, int econ, int m, int n, ulong a,
        int lda, ulong s, ulong u, int ldu, ulong v, int ldv, int* lwork, IntPtr parameters);

    [LibraryImport(NativeLibraries.Cusolver)]
    public static partial int cusolverDnSgesvdj(IntPtr handle, int jobz, int econ, int m, int n, ulong a, int lda,
        ulong s, ulong u, int ldu, ulong v, int ldv, ulong work, int lwork, ulong info, IntPtr parameters);

    [LibraryImport(NativeLibraries.Cusolver)]
    public static partial int cusolverDnSgesvdjBatched_bufferSize(IntPtr handle, int jobz, int m, int n, ulong a,
        int lda, ulong s, ulong u, int ldu, ulong v, int ldv, int* lwork, IntPtr parameters, int batchSize);

    [LibraryImport(NativeLibraries.Cusolver)]
    public static partial int cusolverDnSgesvdjBatched(IntPtr handle, int jobz, int m, int n, ulong a, int lda,
        ulong s, ulong u, int ldu, ulong v, int ldv, ulong work, int lwork, ulong info, IntPtr parameters,
        int batchSize);

    [LibraryImport(NativeLibraries.Cusolver)]
    public static partial int cusolverDnSgesvd_bufferSize(IntPtr handle, int m, int n, int* lwork);

    [LibraryImport(NativeLibraries.Cusolver)]
    public static partial int cusolverDnSgesvd(IntPtr handle, sbyte jobu, sbyte jobvt, int m, int n, ulong a, int lda,
        ulong s, ulong u, int ldu, ulong vt, int ldvt, ulong work, int lwork, ulong rwork, ulong devInfo);

    public static void EnsureLoaded() => NativeLibraries.Require(NativeLibraries.Cusolver);

    public static void Check(int status, string call)
    {
        if (status == CUSOLVER_STATUS_SUCCESS) return;
        throw new CudaException(call, status, StatusName(status), "see the cuSOLVER documentation of this status");
    }

    public static string StatusName(int status) => status switch
    {
        1 => "CUSOLVER_STATUS_NOT_INITIALIZED",
        2 => "CUSOLVER_STATUS_ALLOC_FAILED",
        3 => "CUSOLVER_STATUS_INVALID_VALUE",
        4 => "CUSOLVER_STATUS_ARCH_MISMATCH",
        6 => "CUSOLVER_STATUS_EXECUTION_FAILED",
        7 => "CUSOLVER_STATUS_INTERNAL_ERROR",
        8 => "CUSOLVER_STATUS_MATRIX_TYPE_NOT_SUPPORTED",
        9 => "CUSOLVER_STATUS_NOT_SUPPORTED",
        _ => $"cusolverStatus_t {status}",
    };
}
