using System.Numerics;

namespace QuantNative.Cpu;

/// <summary>
/// The per-element AdamW update on the CPU (the reference of kernels/train/adamw.cu), for one parameter:
///   p ← p·decay;  m ← lerp(m, g, weight);  v ← β2·v + (1 − β2)·g²;  p ← p − stepSize · m / (sqrt(v)/bc2 + eps)
/// in T, with torch.lerp's two formulas (exact at either end of the weight range). Elements are independent, so the
/// result is the same whatever the thread count.
/// </summary>
public static class AdamWUpdate
{
    public static void Apply<T>(T[] value, T[] grad, T[] m, T[] v, long count, AdamWStepScalars s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T decay = T.CreateTruncating(s.Decay), weight = T.CreateTruncating(s.Weight);
        T beta2 = T.CreateTruncating(s.Beta2), oneMinusBeta2 = T.CreateTruncating(s.OneMinusBeta2);
        T eps = T.CreateTruncating(s.Epsilon), stepSize = T.CreateTruncating(s.StepSize);
        T biasCorrection2Sqrt = T.CreateTruncating(s.BiasCorrection2Sqrt);
        bool lowWeight = weight < T.CreateTruncating(0.5);
        const int chunk = 1 << 14;
        int chunks = (int)((count + chunk - 1) / chunk);
        ParallelRows.For(chunks, chunk, c =>
        {
            int end = (int)Math.Min(count, (c + 1L) * chunk);
            for (int i = c * chunk; i < end; i++)
            {
                T gi = grad[i];
                T p = value[i] * decay;
                T mi = lowWeight ? m[i] + weight * (gi - m[i]) : gi - (gi - m[i]) * (T.One - weight);
                T vi = v[i] * beta2 + oneMinusBeta2 * (gi * gi); // addcmul: value·(g·g)
                T denom = T.Sqrt(vi) / biasCorrection2Sqrt + eps;
                m[i] = mi;
                v[i] = vi;
                value[i] = p - stepSize * (mi / denom);
            }
        });
    }
}
