using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>OpenBLAS's CBLAS entry points (C names verbatim). Call <see cref="EnsureLoaded"/> before the first use.</summary>
public static unsafe partial class OpenBlas
{
    public const int CblasRowMajor = 101;
    public const int CblasColMajor = 102;
    public const int CblasNoTrans = 111;
    public const int CblasTrans = 112;

    [LibraryImport(NativeLibraries.OpenBlas)]
    public static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(NativeLibraries.OpenBlas)]
    public static partial void cblas_dgemm(int order, int transA, int transB, int m, int n, int k,
        double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc);

    [LibraryImport(NativeLibraries.OpenBlas)]
    public static partial void openblas_set_num_threads(int threads);

    [LibraryImport(NativeLibraries.OpenBlas)]
    public static partial int openblas_get_num_threads();

    [LibraryImport(NativeLibraries.OpenBlas)]
    public static partial IntPtr openblas_get_config();

    [LibraryImport(NativeLibraries.OpenBlas)]
    public static partial IntPtr openblas_get_corename();

    /// <summary>Loads OpenBLAS or throws a QuantNativeException that says how to install it.</summary>
    public static void EnsureLoaded() => NativeLibraries.Require(NativeLibraries.OpenBlas);

    /// <summary>OpenBLAS's build description (core type, threading), for benchmark reports.</summary>
    public static string Config()
    {
        EnsureLoaded();
        return Marshal.PtrToStringAnsi(openblas_get_config()) ?? "";
    }
}
