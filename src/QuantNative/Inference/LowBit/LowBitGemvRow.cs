using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantNative.Cpu;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// The inner loop of the CPU low-bit GEMV for W4 and W2, the memory-bound decode case: one row's per-group dot
/// products Σ_{k∈g} q_k·x_k straight from the packed 16-byte chunks, without writing codes anywhere. A chunk's bytes
/// are split into nibbles (W4) or bit pairs (W2) with byte operations, widened to 16 int32 lanes (vpmovzxbd), converted
/// and multiplied into a float accumulator; x is prepared once per token in the order those lanes come out
/// (<see cref="Arrange"/>): for W4 the chunk's even codes (low nibbles) then its odd ones, for W2 codes 4b, then
/// 4b+1, 4b+2, 4b+3. AVX-512 takes 16 lanes per step, AVX2 8; without either the caller uses the scalar decode.
/// Exact per term (small integers times x, fused multiply-add in float32); only the summation order differs from
/// the decode-then-dot path.
/// </summary>
public static unsafe class LowBitGemvRow
{
    /// <summary>Whether this machine runs the vector kernel (tests may turn AVX-512 off to reach the AVX2 path).</summary>
    public static bool Supported(int bits) => bits is 2 or 4 && (Avx512F.IsSupported || (Avx2.IsSupported && Fma.IsSupported));

    /// <summary>Disables AVX-512 so that tests can check the AVX2 path on a machine that has both.</summary>
    public static bool UseAvx512 { get; set; } = Avx512F.IsSupported;

    /// <summary>x of one token [K] into the lane order of the kernel [chunks·chunkLength], zero-padded.</summary>
    public static void Arrange(int bits, ReadOnlySpan<float> x, Span<float> arranged)
    {
        int kc = LowBitWeights.ChunkLengthOf(bits), k = x.Length;
        arranged.Clear();
        for (int i = 0; i < k; i++)
        {
            int c = i / kc, j = i % kc;
            int lane = bits == 4 ? (j % 2) * 16 + j / 2 : (j % 4) * 16 + j / 4;
            arranged[c * kc + lane] = x[i];
        }
    }

    /// <summary>
    /// Σ_g scale_g · Σ_{chunks c of g} codes_c · x_c over one row of <paramref name="chunks"/> chunks (16 bytes each),
    /// groups of <paramref name="chunksPerGroup"/> chunks, scale_g at <paramref name="scales"/>[g·<paramref name="scaleStride"/>]:
    /// each group's products accumulate in a vector that is scaled into the row's vector total, one horizontal sum
    /// per row.
    /// </summary>
    public static float RowDot(int bits, byte* row, float* x, int chunks, int chunksPerGroup, float* scales, int scaleStride) =>
        UseAvx512
            ? RowDot512(bits, row, x, chunks, chunksPerGroup, scales, scaleStride)
            : RowDot256(bits, row, x, chunks, chunksPerGroup, scales, scaleStride);

    private static float RowDot512(int bits, byte* row, float* x, int chunks, int chunksPerGroup, float* scales, int scaleStride)
    {
        var total = Vector512<float>.Zero;
        var mask4 = Vector128.Create((byte)0x0f);
        var mask2 = Vector128.Create((byte)0x03);
        int kc = bits == 4 ? 32 : 64;
        for (int first = 0, g = 0; first < chunks; first += chunksPerGroup, g++)
        {
            var acc = Vector512<float>.Zero;
            int end = Math.Min(chunks, first + chunksPerGroup);
            for (int c = first; c < end; c++)
            {
                StreamPrefetch.Ahead(row + 16 * c);
                var v = Sse2.LoadVector128(row + 16 * c);
                float* xc = x + (long)kc * c;
                if (bits == 4)
                {
                    acc = Avx512F.FusedMultiplyAdd(Codes512(v & mask4), Avx512F.LoadVector512(xc), acc);
                    acc = Avx512F.FusedMultiplyAdd(Codes512(Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask4),
                        Avx512F.LoadVector512(xc + 16), acc);
                }
                else
                {
                    acc = Avx512F.FusedMultiplyAdd(Codes512(v & mask2), Avx512F.LoadVector512(xc), acc);
                    acc = Avx512F.FusedMultiplyAdd(Codes512(Sse2.ShiftRightLogical(v.AsUInt16(), 2).AsByte() & mask2),
                        Avx512F.LoadVector512(xc + 16), acc);
                    acc = Avx512F.FusedMultiplyAdd(Codes512(Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask2),
                        Avx512F.LoadVector512(xc + 32), acc);
                    acc = Avx512F.FusedMultiplyAdd(Codes512(Sse2.ShiftRightLogical(v.AsUInt16(), 6).AsByte() & mask2),
                        Avx512F.LoadVector512(xc + 48), acc);
                }
            }
            total = Avx512F.FusedMultiplyAdd(acc, Vector512.Create(scales[(long)g * scaleStride]), total);
        }
        return Vector512.Sum(total);
    }

    private static float RowDot256(int bits, byte* row, float* x, int chunks, int chunksPerGroup, float* scales, int scaleStride)
    {
        var total = Vector256<float>.Zero;
        var mask4 = Vector128.Create((byte)0x0f);
        var mask2 = Vector128.Create((byte)0x03);
        int kc = bits == 4 ? 32 : 64;
        for (int first = 0, g = 0; first < chunks; first += chunksPerGroup, g++)
        {
            var acc = Vector256<float>.Zero;
            int end = Math.Min(chunks, first + chunksPerGroup);
            for (int c = first; c < end; c++)
            {
                StreamPrefetch.Ahead(row + 16 * c);
                var v = Sse2.LoadVector128(row + 16 * c);
                float* xc = x + (long)kc * c;
                if (bits == 4)
                {
                    acc = Plane256(v & mask4, xc, acc);
                    acc = Plane256(Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask4, xc + 16, acc);
                }
                else
                {
                    acc = Plane256(v & mask2, xc, acc);
                    acc = Plane256(Sse2.ShiftRightLogical(v.AsUInt16(), 2).AsByte() & mask2, xc + 16, acc);
                    acc = Plane256(Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask2, xc + 32, acc);
                    acc = Plane256(Sse2.ShiftRightLogical(v.AsUInt16(), 6).AsByte() & mask2, xc + 48, acc);
                }
            }
            total = Fma.MultiplyAdd(acc, Vector256.Create(scales[(long)g * scaleStride]), total);
        }
        return Vector256.Sum(total);
    }

    /// <summary>16 codes (bytes) times 16 x values, in two steps of 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Plane256(Vector128<byte> codes, float* x, Vector256<float> acc)
    {
        acc = Fma.MultiplyAdd(Codes256(codes), Avx.LoadVector256(x), acc);
        return Fma.MultiplyAdd(Codes256(Sse2.ShiftRightLogical128BitLane(codes, 8)), Avx.LoadVector256(x + 8), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Codes512(Vector128<byte> codes) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(codes));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Codes256(Vector128<byte> codes) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(codes));
}
