using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantNative.Cpu.Weights;

/// <summary>
/// Σ_k w_k·x_k with w stored as bfloat16 (a mapped BF16 row: the unquantized lm_head and every linear of a BF16
/// checkpoint), without converting the row into a buffer first: a bfloat16 is the upper half of a float32, so each
/// lane is widened (vpmovzxwd) and shifted into place, exact, then multiplied into float32 accumulators. The decode
/// GEMV reads each weight once, so the separate conversion pass it replaces was pure extra traffic. Four accumulators
/// keep the fused multiply-adds independent; the sum order differs from TensorPrimitives.Dot only by reassociation
/// (Tolerances.Float32ReorderedDotRel).
/// </summary>
public static unsafe class Bf16Dot
{
    /// <summary>Whether a vector kernel runs here (else the caller converts rows and uses TensorPrimitives).</summary>
    public static bool Supported => Avx512F.IsSupported || (Avx2.IsSupported && Fma.IsSupported);

    /// <summary>Disables AVX-512 so that tests can check the AVX2 path on a machine that has both.</summary>
    public static bool UseAvx512 { get; set; } = Avx512F.IsSupported;

    public static float Dot(ushort* w, float* x, int k) => UseAvx512 ? Dot512(w, x, k) : Dot256(w, x, k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    private static float Dot512(ushort* w, float* x, int k)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 64 <= k; i += 64)
        {
            StreamPrefetch.Ahead(w + i);
            StreamPrefetch.Ahead(w + i + 32);
            a0 = Avx512F.FusedMultiplyAdd(Widen512(w + i), Avx512F.LoadVector512(x + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(Widen512(w + i + 16), Avx512F.LoadVector512(x + i + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(Widen512(w + i + 32), Avx512F.LoadVector512(x + i + 32), a2);
            a3 = Avx512F.FusedMultiplyAdd(Widen512(w + i + 48), Avx512F.LoadVector512(x + i + 48), a3);
        }
        for (; i + 16 <= k; i += 16)
            a0 = Avx512F.FusedMultiplyAdd(Widen512(w + i), Avx512F.LoadVector512(x + i), a0);
        float sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < k; i++) sum = MathF.FusedMultiplyAdd(ToFloat(w[i]), x[i], sum);
        return sum;
    }

    private static float Dot256(ushort* w, float* x, int k)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            StreamPrefetch.Ahead(w + i);
            a0 = Fma.MultiplyAdd(Widen256(w + i), Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(Widen256(w + i + 8), Avx.LoadVector256(x + i + 8), a1);
            a2 = Fma.MultiplyAdd(Widen256(w + i + 16), Avx.LoadVector256(x + i + 16), a2);
            a3 = Fma.MultiplyAdd(Widen256(w + i + 24), Avx.LoadVector256(x + i + 24), a3);
        }
        for (; i + 8 <= k; i += 8)
            a0 = Fma.MultiplyAdd(Widen256(w + i), Avx.LoadVector256(x + i), a0);
        float sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < k; i++) sum = MathF.FusedMultiplyAdd(ToFloat(w[i]), x[i], sum);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen512(ushort* w) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Avx.LoadVector256(w)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen256(ushort* w) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(Sse2.LoadVector128(w)), 16).AsSingle();
}
