using QuantNative.Cpu;

namespace QuantNative.Verification;

/// <summary>
/// The error measures that compare a device op with its C# CPU reference, shared by `qn test-backend` and the kernel
/// tests. Every measure treats a NaN or infinite element of the actual result (an element the kernel never wrote: the
/// outputs are poisoned with NaN first) as an infinite error, so it cannot pass.
/// </summary>
public static class OpErrors
{
    /// <summary>‖actual − expected‖₂ / ‖expected‖₂ over the first <paramref name="count"/> elements; 0 when both are
    /// all zeros, infinite when only the expected is.</summary>
    public static double RelativeL2(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, long count)
    {
        double diff2 = 0, norm2 = 0;
        for (int i = 0; i < count; i++)
        {
            double e = expected[i], d = actual[i] - e;
            diff2 += d * d;
            norm2 += e * e;
        }
        if (norm2 == 0) return diff2 == 0 ? 0 : double.PositiveInfinity;
        double r = Math.Sqrt(diff2 / norm2);
        return double.IsNaN(r) ? double.PositiveInfinity : r;
    }

    public static double RelativeL2(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        return RelativeL2(actual, e, Math.Min(actual.Length, e.Length));
    }

    /// <summary>How many elements differ in their bits (0 for a bit-exact result; a NaN never equals the reference's
    /// number).</summary>
    public static int BitMismatches(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        int n = 0;
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i])) n++;
        return n;
    }

    /// <summary><see cref="BitMismatches(ReadOnlySpan{float}, ReadOnlySpan{float})"/> with every NaN equal to every
    /// other: CUDA's conversions give the canonical NaN (0x7fffffff) where C#'s keep the payload.</summary>
    public static int BitMismatchesAnyNaN(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        int n = 0;
        for (int i = 0; i < expected.Length; i++)
            if (float.IsNaN(expected[i]) ? !float.IsNaN(actual[i])
                : BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i])) n++;
        return n;
    }

    public static int BitMismatches(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected)
    {
        int n = 0;
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i]) n++;
        return n;
    }

    /// <summary>‖actual‖₂ / ‖scale‖₂: the rounding noise of a result that is exactly 0 in exact arithmetic (and on the
    /// CPU), measured against the size of the terms it comes from.</summary>
    public static double NoiseOfZero(ReadOnlySpan<float> actual, ReadOnlySpan<float> scale)
    {
        double a = 0, s = 0;
        foreach (float v in actual) a += (double)v * v;
        foreach (float v in scale) s += (double)v * v;
        double r = Math.Sqrt(a / Math.Max(s, double.Epsilon));
        return double.IsNaN(r) ? double.PositiveInfinity : r;
    }

    /// <summary>
    /// The worst output error of a matrix product relative to its own error scale: max over outputs of
    /// max(0, |actual − expected| − halfRel·|expected| − 2⁻²⁵) / Σ_k |a_k·b_k|, with halfRel the allowance of an fp16
    /// output's one rounding (0 for float32 outputs). A reordered float32 sum is accurate relative to the sum of its
    /// terms' magnitudes, not to its value, which may cancel. <paramref name="magnitudes"/>[i] is Σ|a·b| of output i.
    /// </summary>
    public static double WorstSumRelative(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected,
        ReadOnlySpan<double> magnitudes, double halfRel)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!float.IsFinite(actual[i])) return double.PositiveInfinity;
            double allowance = halfRel == 0 ? 0 : halfRel * Math.Abs(expected[i]) + Math.Pow(2, -25);
            double excess = Math.Max(0, Math.Abs(actual[i] - (double)expected[i]) - allowance);
            worst = Math.Max(worst, excess / Math.Max(magnitudes[i], 1e-30));
        }
        return worst;
    }

    /// <summary>‖W − U·diag(S)·Vᵀ‖_F / ‖W‖_F, in float64.</summary>
    public static double SvdReconstruction(SvdFactors svd, ReadOnlySpan<float> w)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < svd.Rows; i++)
        for (int j = 0; j < svd.Cols; j++)
        {
            double sum = 0;
            for (int t = 0; t < svd.Rank; t++)
                sum += (double)svd.Ut[t * svd.Rows + i] * svd.S[t] * svd.Vt[t * svd.Cols + j];
            double x = w[i * svd.Cols + j];
            err += (x - sum) * (x - sum);
            norm += x * x;
        }
        double r = Math.Sqrt(err / Math.Max(norm, double.Epsilon));
        return double.IsNaN(r) ? double.PositiveInfinity : r;
    }

    /// <summary>max |QᵀQ − I| of a row-major [rows, r] matrix whose columns should be orthonormal.</summary>
    public static double Orthonormality(float[] q, int rows, int r)
    {
        double worst = 0;
        for (int a = 0; a < r; a++)
        for (int b = 0; b < r; b++)
        {
            double dot = 0;
            for (int i = 0; i < rows; i++) dot += (double)q[i * r + a] * q[i * r + b];
            double e = Math.Abs(dot - (a == b ? 1 : 0));
            worst = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(worst, e);
        }
        return worst;
    }

    /// <summary>max |S_a − S_b| / S_max of two lists of singular values.</summary>
    public static double SingularValues(float[] a, float[] b)
    {
        if (a.Length != b.Length) return double.PositiveInfinity;
        double worst = 0, max = a.Length == 0 ? 1 : Math.Max(a[0], float.Epsilon);
        for (int i = 0; i < a.Length; i++)
        {
            double e = Math.Abs(a[i] - b[i]) / max;
            worst = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(worst, e);
        }
        return worst;
    }
}
