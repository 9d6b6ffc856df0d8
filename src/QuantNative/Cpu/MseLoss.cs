using System.Numerics;

namespace QuantNative.Cpu;

/// <summary>
/// Mean squared error over all elements, L = Σ (y − t)² / N (DESIGN.md §7.4), and its gradient. The sum runs in
/// double for either precision: N is T·hidden (2M at the 7B shape), too many terms for a float accumulator.
/// </summary>
public static class MseLoss
{
    public static double Forward<T>(T[] y, T[] target, long count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (count == 0) throw new ArgumentException("MSE of zero elements is undefined", nameof(count));
        double sum = 0;
        for (long n = 0; n < count; n++)
        {
            double e = double.CreateTruncating(y[n]) - double.CreateTruncating(target[n]);
            sum += e * e;
        }
        return sum / count;
    }

    /// <summary>
    /// dy = dLoss · 2(y − t)/N, added to dy when <paramref name="accumulate"/> (a second loss on the same output,
    /// such as OmniQuant's aug loss).
    /// </summary>
    public static void Backward<T>(T[] dy, double dLoss, T[] y, T[] target, long count, bool accumulate = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T factor = T.CreateTruncating(2.0 * dLoss / count);
        for (long n = 0; n < count; n++)
        {
            T g = factor * (y[n] - target[n]);
            dy[n] = accumulate ? dy[n] + g : g;
        }
    }
}
