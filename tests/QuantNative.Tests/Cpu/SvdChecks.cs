using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Verification;

namespace QuantNative.Tests.Cpu;

/// <summary>What every thin SVD must satisfy, measured in float64: reconstruction, orthonormal columns, S ≥ 0 sorted.</summary>
internal static class SvdChecks
{
    public static float[] RandomMatrix(Random r, int count)
    {
        var w = new float[count];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(2 * r.NextDouble() - 1);
        return w;
    }

    /// <summary>‖W − U·diag(S)·Vᵀ‖_F / ‖W‖_F.</summary>
    public static double ReconstructionError(SvdFactors svd, ReadOnlySpan<float> w) => OpErrors.SvdReconstruction(svd, w);

    /// <summary>max |QᵀQ − I| of a row-major [rows, r] matrix with orthonormal columns.</summary>
    public static double OrthonormalityError(float[] q, int rows, int r) => OpErrors.Orthonormality(q, rows, r);

    public static void AssertValid(SvdFactors svd, ReadOnlySpan<float> w, string what)
    {
        Assert.That(svd.Rank, Is.EqualTo(Math.Min(svd.Rows, svd.Cols)), what);
        Assert.That(svd.Ut, Has.Length.EqualTo(svd.Rows * svd.Rank), what);
        Assert.That(svd.Vt, Has.Length.EqualTo(svd.Cols * svd.Rank), what);
        Assert.That(svd.S, Has.Length.EqualTo(svd.Rank), what);
        double rec = ReconstructionError(svd, w);
        double ou = OrthonormalityError(QuantNative.Cpu.Svd.Transpose(svd.Ut, svd.Rank, svd.Rows), svd.Rows, svd.Rank);
        double ov = OrthonormalityError(QuantNative.Cpu.Svd.Transpose(svd.Vt, svd.Rank, svd.Cols), svd.Cols, svd.Rank);
        TestContext.Out.WriteLine($"{what}: reconstruction {rec:E2}, UᵀU−I {ou:E2}, VᵀV−I {ov:E2}");
        Assert.That(rec, Is.LessThanOrEqualTo(Tolerances.SvdReconstructionRel), $"{what}: reconstruction");
        Assert.That(ou, Is.LessThanOrEqualTo(Tolerances.SvdOrthonormalityAbs), $"{what}: UᵀU = I");
        Assert.That(ov, Is.LessThanOrEqualTo(Tolerances.SvdOrthonormalityAbs), $"{what}: VᵀV = I");
        for (int t = 0; t < svd.Rank; t++)
        {
            Assert.That(svd.S[t], Is.GreaterThanOrEqualTo(0f), $"{what}: S[{t}] non-negative");
            if (t > 0) Assert.That(svd.S[t], Is.LessThanOrEqualTo(svd.S[t - 1]), $"{what}: S descending at {t}");
        }
    }

    /// <summary>max |S_a − S_b| / S_max.</summary>
    public static double SingularValueDifference(float[] a, float[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length));
        return OpErrors.SingularValues(a, b);
    }
}
