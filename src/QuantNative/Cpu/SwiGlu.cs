using System.Numerics;
using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>SwiGLU h = silu(a) ⊙ b with silu(a) = a·σ(a) (DESIGN.md §7.8), forward and backward.</summary>
public static class SwiGlu
{
    /// <summary>Elements per parallel work item: a stack scratch of this many doubles is 32 KiB.</summary>
    private const int Chunk = 4096;

    /// <summary>
    /// h[n] = silu(a[n]) · b[n] over <paramref name="count"/> elements. h may alias a (inference does that to need
    /// no extra buffer); b is left intact. The backward pass needs only a and b.
    /// </summary>
    public static void Forward<T>(T[] h, T[] a, T[] b, long count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = (int)((count + Chunk - 1) / Chunk);
        ParallelRows.For(chunks, Chunk, c =>
        {
            int start = c * Chunk, len = (int)Math.Min(Chunk, count - start);
            Span<T> silu = stackalloc T[len];
            var av = a.AsSpan(start, len);
            TensorPrimitives.Sigmoid<T>(av, silu);
            TensorPrimitives.Multiply(silu, av, silu);
            TensorPrimitives.Multiply(silu, b.AsSpan(start, len), h.AsSpan(start, len));
        });
    }

    /// <summary>
    /// da = dh ⊙ b ⊙ σ(a)·(1 + a·(1 − σ(a))), db = dh ⊙ silu(a). da may alias dh (each element is read before it
    /// is written).
    /// </summary>
    public static void Backward<T>(T[] da, T[] db, T[] dh, T[] a, T[] b, long count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int chunks = (int)((count + Chunk - 1) / Chunk);
        ParallelRows.For(chunks, Chunk, c =>
        {
            int start = c * Chunk, end = (int)Math.Min(start + (long)Chunk, count);
            for (int n = start; n < end; n++)
            {
                T x = a[n], g = dh[n], s = T.One / (T.One + T.Exp(-x));
                T dA = g * b[n] * s * (T.One + x * (T.One - s));
                db[n] = g * x * s;
                da[n] = dA;
            }
        });
    }
}
