using System.Numerics;
using QuantNative.Interop;

namespace QuantNative.Cpu;

/// <summary>
/// Dense matrix products on the CPU through OpenBLAS. Every matrix is row-major; the weight convention of the
/// project is W [out, in] with y = x·Wᵀ, so the common case is <see cref="MatMulTransB"/>. Each product is generic
/// over float (sgemm, the fast path) and double (dgemm, the reference that finite-difference tests need); the JIT
/// removes the type test for each instantiation.
/// </summary>
public static unsafe class Gemm
{
    static Gemm() => OpenBlas.EnsureLoaded();

    /// <summary>C[M,N] = A[M,K]·B[N,K]ᵀ (+ C when <paramref name="accumulate"/>).</summary>
    public static void MatMulTransB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k,
        bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
        => Dense(false, true, a, b, c, m, n, k, T.One, accumulate);

    /// <summary>
    /// C[M,N] = alpha·op(A)·op(B) (+ C when <paramref name="accumulate"/>) on packed row-major operands:
    /// op(A) is [M,K] (A stored [K,M] when transposed), op(B) is [K,N] (B stored [N,K] when transposed).
    /// </summary>
    public static void Dense<T>(bool transA, bool transB, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c,
        int m, int n, int k, T alpha, bool accumulate = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireLength(a.Length, (long)m * k, "A"); RequireLength(b.Length, (long)n * k, "B");
        RequireLength(c.Length, (long)m * n, "C");
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            // BLAS leaves C untouched (times beta) for an empty inner dimension; say so explicitly.
            if (!accumulate) c[..(m * n)].Clear();
            return;
        }
        fixed (T* pa = a) fixed (T* pb = b) fixed (T* pc = c)
            Strided(transA, transB, m, n, k, alpha, pa, transA ? m : k, pb, transB ? k : n,
                accumulate ? T.One : T.Zero, pc, n);
    }

    /// <summary>General strided form: C = alpha·op(A)·op(B) + beta·C with leading dimensions (row strides).</summary>
    public static void Strided<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ta = transA ? OpenBlas.CblasTrans : OpenBlas.CblasNoTrans;
        int tb = transB ? OpenBlas.CblasTrans : OpenBlas.CblasNoTrans;
        if (typeof(T) == typeof(float))
            OpenBlas.cblas_sgemm(OpenBlas.CblasRowMajor, ta, tb, m, n, k, float.CreateTruncating(alpha),
                (float*)a, lda, (float*)b, ldb, float.CreateTruncating(beta), (float*)c, ldc);
        else if (typeof(T) == typeof(double))
            OpenBlas.cblas_dgemm(OpenBlas.CblasRowMajor, ta, tb, m, n, k, double.CreateTruncating(alpha),
                (double*)a, lda, (double*)b, ldb, double.CreateTruncating(beta), (double*)c, ldc);
        else
            throw new NotSupportedException($"GEMM for {typeof(T).Name}: only float and double have BLAS kernels");
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

    private static void RequireLength(int length, long needed, string name)
    {
        if (length < needed)
            throw new ArgumentException($"GEMM operand {name} has {length} elements, needs {needed}");
    }
}
