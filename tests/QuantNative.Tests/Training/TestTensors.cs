namespace QuantNative.Tests.Training;

/// <summary>Random tensors for the training tests, and their float/double twins.</summary>
public static class TestTensors
{
    public static double[] Uniform(Random random, long n, double lo = -1, double hi = 1)
    {
        var a = new double[n];
        for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * random.NextDouble();
        return a;
    }

    /// <summary>Uniform values that are exactly representable in float, so the float and double paths start equal.</summary>
    public static double[] UniformFloat(Random random, long n, double lo = -1, double hi = 1) =>
        Uniform(random, n, lo, hi).Select(v => (double)(float)v).ToArray();

    public static float[] ToFloat(double[] a) => Array.ConvertAll(a, v => (float)v);
    public static double[] ToDouble(float[] a) => Array.ConvertAll(a, v => (double)v);

    /// <summary>An array of NaN: outputs start poisoned, so an element a kernel forgets to write shows.</summary>
    public static T[] Poisoned<T>(long n) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        var a = new T[n];
        Array.Fill(a, T.NaN);
        return a;
    }

    /// <summary>‖actual − expected‖₂ / ‖expected‖₂ over the first <paramref name="count"/> elements.</summary>
    public static double RelativeError(float[] actual, double[] expected, long count)
    {
        double r = QuantNative.Verification.OpErrors.RelativeL2(actual, expected, count);
        // The tests' callers divide by a non-zero norm; an all-zero reference is an infinite error here as before.
        return expected.Take((int)count).All(v => v == 0) ? double.PositiveInfinity : r;
    }
}
