using QuantNative.Interop;

namespace QuantNative.Cpu;

/// <summary>
/// The thin SVD of a row-major matrix W [rows, cols] = U·diag(S)·Vᵀ, r = min(rows, cols), with the factors stored
/// the way their users read them: <see cref="Ut"/> = Uᵀ [r, rows] and <see cref="Vt"/> = Vᵀ [r, cols], so singular
/// direction j is row j of each (contiguous). S is descending and non-negative. The CPU path (<see cref="Svd.Thin"/>)
/// and the device path (<see cref="Cuda.DeviceSvd"/>) both return this convention.
/// </summary>
public sealed record SvdFactors(int Rows, int Cols, int Rank, float[] Ut, float[] S, float[] Vt)
{
    /// <summary>The leading <paramref name="k"/> directions only (what a mask that touches no other needs).</summary>
    public SvdFactors Leading(int k)
    {
        if (k < 1 || k > Rank) throw new ArgumentOutOfRangeException(nameof(k), $"{k} directions of a rank-{Rank} SVD");
        return k == Rank ? this : new SvdFactors(Rows, Cols, k, Ut[..(k * Rows)], S[..k], Vt[..(k * Cols)]);
    }
}

/// <summary>SVD on the CPU through LAPACKE sgesdd (divide and conquer), DESIGN.md §3.</summary>
public static unsafe class Svd
{
    /// <summary>Thin SVD of <paramref name="w"/> [rows, cols] (not modified). Errors name <paramref name="what"/>.</summary>
    public static SvdFactors Thin(ReadOnlySpan<float> w, int rows, int cols, string what = "matrix")
    {
        if (rows < 1 || cols < 1 || w.Length != (long)rows * cols)
            throw new QuantNativeException($"SVD of {what}: {w.Length} values for a [{rows}, {cols}] matrix");
        Lapacke.EnsureLoaded();
        int r = Math.Min(rows, cols);
        var a = w.ToArray(); // sgesdd destroys its input
        var u = new float[(long)rows * r];
        var s = new float[r];
        var vt = new float[(long)r * cols];
        fixed (float* pa = a) fixed (float* pu = u) fixed (float* ps = s) fixed (float* pvt = vt)
            Lapacke.Check(Lapacke.LAPACKE_sgesdd(Lapacke.LAPACK_ROW_MAJOR, (byte)'S', rows, cols, pa, cols, ps, pu, r,
                pvt, cols), $"LAPACKE_sgesdd({what} [{rows}, {cols}])");
        return new SvdFactors(rows, cols, r, Transpose(u, rows, r), s, vt);
    }

    /// <summary>The transpose of row-major <paramref name="a"/> [rows, cols], i.e. [cols, rows] row-major.</summary>
    public static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.LongLength];
        for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            t[(long)j * rows + i] = a[(long)i * cols + j];
        return t;
    }
}
