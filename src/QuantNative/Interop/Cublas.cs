using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>
/// cuBLAS (libcublas.so.13/.12/.11), C names verbatim. Column-major, scalars by host pointer (the default pointer
/// mode). Pass every status through <see cref="Check"/>.
/// </summary>
public static unsafe partial class Cublas
{
    public const int CUBLAS_STATUS_SUCCESS = 0;
    public const int CUBLAS_OP_N = 0;
    public const int CUBLAS_OP_T = 1;

    /// <summary>cudaDataType values.</summary>
    public const int CUDA_R_32F = 0;
    public const int CUDA_R_16F = 2;
    public const int CUDA_R_16BF = 14;

    /// <summary>cublasComputeType_t values (CUDA 11+).</summary>
    public const int CUBLAS_COMPUTE_32F = 68;
    public const int CUBLAS_COMPUTE_32F_FAST_16F = 74;
    public const int CUBLAS_GEMM_DEFAULT = -1;

    /// <summary>libraryPropertyType: MAJOR_VERSION 0, MINOR_VERSION 1, PATCH_LEVEL 2.</summary>
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasGetProperty(int type, int* value);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasCreate_v2(IntPtr* handle);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasDestroy_v2(IntPtr handle);
    [LibraryImport(NativeLibraries.Cublas)] public static partial int cublasSetStream_v2(IntPtr handle, IntPtr streamId);

    [LibraryImport(NativeLibraries.Cublas)]
    public static partial int cublasSgemm_v2(IntPtr handle, int transa, int transb, int m, int n, int k,
        float* alpha, ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);

    [LibraryImport(NativeLibraries.Cublas)]
    public static partial int cublasGemmEx(IntPtr handle, int transa, int transb, int m, int n, int k, void* alpha,
        ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc,
        int computeType, int algo);

    public static void EnsureLoaded() => NativeLibraries.Require(NativeLibraries.Cublas);

    public static void Check(int status, string call)
    {
        if (status == CUBLAS_STATUS_SUCCESS) return;
        throw new CudaException(call, status, StatusName(status), "see the cuBLAS documentation of this status");
    }

    public static string StatusName(int status) => status switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus_t {status}",
    };
}
