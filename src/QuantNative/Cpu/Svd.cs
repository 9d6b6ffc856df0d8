using QuantNative.Interop;

namespace QuantNative.Cpu;

/// <summary>
/// A thin SVD W = U·diag(S)·Vᵀ of a row-major W [Rows, Cols], r = <see cref="Rank"/> = min(Rows, Cols): U [Rows, r],
/// S [r] non-negative and descending, V [Cols, r] (V itself, not Vᵀ: column j of U and of V is the j-th singular
/// pair), all row-major. The CPU path (<see cref="Svd.Thin"/>) and the device path
/// (<see cref="Cuda.DeviceSvd"/>) return this same convention.
/// </summary>
public sealed record SvdResult(float[] U, float[] S, float[] V, int Rows, int Cols, int Rank)
{
    /// <summary>U·diag(S)·Vᵀ, row-major [Rows, Cols] (float64 sums rounded once).</summary>
    public float[] Reconstruct()
    {
        var w = new float[(long)Rows * Cols];
        for (int i = 0; i < Rows; i++)
        for (int j = 0; j < Cols; j++)
        {
            double sum = 0;
            for (int t = 0; t < Rank; t++) sum += (double)U[(long)i * Rank + t] * S[t] * V[(long)j * Rank + t];
            w[(long)i * Cols + j] = (float)sum;
        }
        return w;
    }
}

/// <summary>SVD on the CPU: LAPACKE's sgesdd (divide and conquer) in float32.</summary>
public static unsafe class Svd
{
    /// <summary>The thin SVD of row-major <paramref name="w"/> [rows, cols] (not modified).</summary>
    public static SvdResult Thin(float[] w, int rows, int cols)
    {
        if (rows < 1 || cols < 1 || w.LongLength != (long)rows * cols)
            throw new QuantNativeException(
                $"SVD: the matrix has {w.LongLength} elements; expected [{rows}, {cols}] with both dimensions ≥ 1");
        Lapacke.EnsureLoaded();
        int r = Math.Min(rows, cols);
        var a = (float[])w.Clone(); // sgesdd destroys its input
        var u = new float[(long)rows * r];
        var s = new float[r];
        var vt = new float[(long)r * cols];
        fixed (float* pa = a, pu = u, ps = s, pvt = vt)
            Lapacke.Check(Lapacke.LAPACKE_sgesdd(Lapacke.LAPACK_ROW_MAJOR, (byte)'S', rows, cols, pa, cols, ps, pu, r,
                pvt, cols), $"LAPACKE_sgesdd({rows}x{cols})");
        return new SvdResult(u, s, Transpose(vt, r, cols), rows, cols, r);
    }

    /// <summary>The transpose of row-major <paramref name="a"/> [rows, cols], i.e. [cols, rows] row-major.</summary>
    internal static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.LongLength];
        for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            t[(long)j * rows + i] = a[(long)i * cols + j];
        return t;
    }
}
