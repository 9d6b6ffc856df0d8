namespace QuantNative.Cuda;

/// <summary>The shape rule of <see cref="ICudaRuntime.Sgesvd"/> (cuSOLVER gesvd's: m ≥ n).</summary>
internal static class SvdShape
{
    public static void Check(int m, int n)
    {
        if (n < 1 || m < n)
            throw new QuantNativeException(
                $"SVD of a {m}x{n} matrix: expected m >= n >= 1 (pass the transpose of a wide matrix)");
    }
}

/// <summary>The shape rule of <see cref="ICudaRuntime.SgesvdBatched"/>: cusolverDnSgesvdjBatched takes matrices of at
/// most 32×32; the emulator enforces the same so tests catch a shape a GPU would refuse.</summary>
public static class SvdBatchShape
{
    public const int MaxDim = 32;

    public static void Check(int m, int n, int batch)
    {
        if (m < 1 || n < 1 || m > MaxDim || n > MaxDim)
            throw new QuantNativeException(
                $"batched SVD of {m}x{n} matrices: expected 1..{MaxDim} rows and columns (cusolverDnSgesvdjBatched's " +
                "limit; use the one-matrix SVD for larger ones)");
        if (batch < 1) throw new QuantNativeException($"batched SVD of {m}x{n} matrices: batch {batch}, expected ≥ 1");
    }
}

/// <summary>The shape rule of <see cref="ICudaRuntime.GemmF16"/>: BLAS's leading-dimension rules, checked before a
/// call so the emulator and cuBLAS refuse the same arguments.</summary>
internal static class GemmF16Shape
{
    public static void Check(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        if (m < 1 || n < 1 || k < 1)
            throw new QuantNativeException($"fp16 GEMM {m}x{n}x{k}: every dimension must be positive");
        if (lda < Math.Max(1, transA ? k : m) || ldb < Math.Max(1, transB ? n : k) || ldc < Math.Max(1, m))
            throw new QuantNativeException(
                $"fp16 GEMM {m}x{n}x{k} (transA {transA}, transB {transB}): leading dimensions {lda}, {ldb}, {ldc} " +
                "are smaller than the rows of A, B, C");
    }
}
