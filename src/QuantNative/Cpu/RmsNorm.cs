using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>RMSNorm over the last dimension: y = γ ⊙ x / sqrt(mean(x²) + eps) (DESIGN.md §7.8).</summary>
public static class RmsNorm
{
    /// <summary>Normalizes each of the <paramref name="rows"/> rows of x [rows, dim] into y.</summary>
    public static void Forward(float[] y, float[] x, float[] gamma, int rows, int dim, float eps)
    {
        ParallelRows.For(rows, dim, r =>
        {
            var xr = x.AsSpan(r * dim, dim);
            var yr = y.AsSpan(r * dim, dim);
            float inv = InverseRms(xr, eps);
            TensorPrimitives.Multiply(xr, inv, yr);
            TensorPrimitives.Multiply(yr, gamma, yr);
        });
    }

    /// <summary>1 / sqrt(mean(x²) + eps), the sum of squares accumulated in double for long rows.</summary>
    public static float InverseRms(ReadOnlySpan<float> x, float eps)
    {
        double ss = 0;
        foreach (float v in x) ss += (double)v * v;
        return (float)(1.0 / Math.Sqrt(ss / x.Length + eps));
    }
}
