using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>SwiGLU: h = silu(a) ⊙ b with silu(a) = a·σ(a) (DESIGN.md §7.8).</summary>
public static class SwiGlu
{
    /// <summary>
    /// h[n] = silu(gate[n]) · up[n] over <paramref name="count"/> elements. h may alias gate; up is overwritten
    /// (with gate ⊙ up) so that no scratch buffer is needed.
    /// </summary>
    public static void Forward(float[] h, float[] gate, float[] up, long count)
    {
        const int chunk = 1 << 14;
        int chunks = (int)((count + chunk - 1) / chunk);
        ParallelRows.For(chunks, chunk, c =>
        {
            int start = c * chunk, len = (int)Math.Min(chunk, count - start);
            var g = gate.AsSpan(start, len);
            var u = up.AsSpan(start, len);
            var o = h.AsSpan(start, len);
            // a·b first, while a is intact (o may alias a), then σ(a)·(a·b): three passes over cache-resident chunks.
            TensorPrimitives.Multiply(u, g, u);
            TensorPrimitives.Sigmoid(g, o);
            TensorPrimitives.Multiply(o, u, o);
        });
    }
}
