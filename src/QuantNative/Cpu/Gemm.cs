using QuantNative.Interop;

namespace QuantNative.Cpu;

/// <summary>
/// Dense matrix products on the CPU through OpenBLAS. Every matrix is row-major; the weight convention of the
/// project is W [out, in] with y = x·Wᵀ, so the common case is <see cref="MatMulTransB"/>.
/// </summary>
public static unsafe class Gemm
{
    static Gemm() => OpenBlas.EnsureLoaded();

    /// <summary>C[M,N] = A[M,K]·B[N,K]ᵀ (+ C when <paramref name="accumulate"/>).</summary>
    public static void MatMulTransB(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool accumulate = false)
    {
        RequireLength(a, (long)m * k, "A"); RequireLength(b, (long)n * k, "B"); RequireLength(c, (long)m * n, "C");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            OpenBlas.cblas_sgemm(OpenBlas.CblasRowMajor, OpenBlas.CblasNoTrans, OpenBlas.CblasTrans, m, n, k,
                1f, pa, k, pb, k, accumulate ? 1f : 0f, pc, n);
    }

    /// <summary>General strided form: C = alpha·op(A)·op(B) + beta·C with leading dimensions (row strides).</summary>
    public static void Strided(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        OpenBlas.cblas_sgemm(OpenBlas.CblasRowMajor, transA ? OpenBlas.CblasTrans : OpenBlas.CblasNoTrans,
            transB ? OpenBlas.CblasTrans : OpenBlas.CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>
    /// Sets OpenBLAS's thread count until disposed. Small models run faster with one BLAS thread per independent
    /// sequence (their GEMMs are too small to split) than with every thread on one sequence.
    /// </summary>
    public static IDisposable UseBlasThreads(int threads)
    {
        int previous = OpenBlas.openblas_get_num_threads();
        OpenBlas.openblas_set_num_threads(threads);
        return new Restore(previous);
    }

    private sealed class Restore(int threads) : IDisposable
    {
        public void Dispose() => OpenBlas.openblas_set_num_threads(threads);
    }

    private static void RequireLength(ReadOnlySpan<float> s, long needed, string name)
    {
        if (s.Length < needed)
            throw new ArgumentException($"GEMM operand {name} has {s.Length} elements, needs {needed}");
    }
}
