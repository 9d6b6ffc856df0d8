using NUnit.Framework;

namespace QuantNative.Tests.Training;

/// <summary>
/// Analytic gradients against central finite differences in double precision:
/// g_fd[i] = (L(x + h·e_i) − L(x − h·e_i)) / 2h with h = <see cref="Tolerances.FiniteDifferenceStep"/>·max(1, |x_i|),
/// compared by ‖g − g_fd‖₂ / ‖g_fd‖₂ over the checked elements (<see cref="Tolerances.GradientVsFiniteDifferenceRel"/>).
/// </summary>
public static class GradientCheck
{
    /// <summary>
    /// Checks <paramref name="analytic"/> = dL/dx where <paramref name="loss"/> reads x (perturbed here in place and
    /// restored). <paramref name="sample"/>: how many elements to check (evenly spread, always including the first
    /// and last); all when null.
    /// </summary>
    public static void Assert(double[] analytic, double[] x, Func<double> loss, string what, int? sample = null)
    {
        double error = RelativeError(analytic, x, loss, sample, out int checkedCount, out double norm);
        TestContext.Out.WriteLine($"{what}: ‖g − g_fd‖/‖g_fd‖ = {error:G3} over {checkedCount} elements (‖g_fd‖ = {norm:G3})");
        NUnit.Framework.Assert.That(norm, Is.GreaterThan(0), $"{what}: the finite-difference gradient is zero, so the check proves nothing");
        NUnit.Framework.Assert.That(error, Is.LessThan(Tolerances.GradientVsFiniteDifferenceRel), $"{what}: relative error");
    }

    public static double RelativeError(double[] analytic, double[] x, Func<double> loss, int? sample,
        out int checkedCount, out double fdNorm)
    {
        NUnit.Framework.Assert.That(analytic.Length, Is.EqualTo(x.Length), "gradient and tensor lengths");
        var indices = Indices(x.Length, sample);
        double diff2 = 0, norm2 = 0;
        foreach (int i in indices)
        {
            double saved = x[i], h = Tolerances.FiniteDifferenceStep * Math.Max(1, Math.Abs(saved));
            x[i] = saved + h; double up = loss();
            x[i] = saved - h; double down = loss();
            x[i] = saved;
            double fd = (up - down) / (2 * h);
            diff2 += (analytic[i] - fd) * (analytic[i] - fd);
            norm2 += fd * fd;
        }
        checkedCount = indices.Count;
        fdNorm = Math.Sqrt(norm2);
        return Math.Sqrt(diff2) / fdNorm;
    }

    private static List<int> Indices(int n, int? sample)
    {
        if (sample is not { } s || s >= n) return Enumerable.Range(0, n).ToList();
        // Evenly spread, so every region of a tensor (first rows, last rows, each head) is represented.
        return Enumerable.Range(0, s).Select(k => (int)((long)k * (n - 1) / (s - 1))).Distinct().ToList();
    }

    /// <summary>Σ c ⊙ y, the scalar loss whose gradient with respect to y is c.</summary>
    public static double Dot(double[] c, double[] y, int count)
    {
        double s = 0;
        for (int i = 0; i < count; i++) s += c[i] * y[i];
        return s;
    }
}
