using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantNative.Cpu;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// The int8-activation inner loop of the CPU low-bit decode GEMV (<see cref="DecodeActivations.Int8"/>), W4, W3 and W2:
/// Σ_c d_c · s_{g(c)} · Σ_{k∈c} q_k·xi_k over one row, xi and d from <see cref="Int8Activations"/>. Four chunks (one
/// 64-byte vector of each plane of packed codes) per step: the codes are split into byte lanes (nibbles, bit pairs, or
/// W3's bit pairs with their high bit ORed in), multiplied by the arranged int8 x and summed in pairs to int16
/// (vpmaddubsw: unsigned codes ≤ 15 times |xi| ≤ 127, a pair ≤ 3810; a step's passes sum to ≤ 7620 at W4, 3048 at W2,
/// 14224 at W3: no saturation), in fours to int32 (vpmaddwd by 1), then converted once per step and scaled by the
/// chunk's d and the group's scale per lane (four lanes per chunk). The integer part is exact; the float part rounds
/// once per step and lane. AVX-512BW takes a step per vector, AVX2 in two halves. The zero points (Σ_g s_g·z_g·X̃_g)
/// are the caller's. The specification is <see cref="Reference"/>.
/// </summary>
public static unsafe class LowBitInt8Row
{
    /// <summary>Whether the kernel runs for these weights on this machine: W2/W3/W4, and a step's four chunks within one
    /// group or in groups of one or two chunks (other group lengths take the float path).</summary>
    public static bool Supported(int bits, int groups, int chunksPerGroup) =>
        bits is 2 or 3 or 4 && (Avx512BW.IsSupported || Avx2.IsSupported) &&
        (groups == 1 || chunksPerGroup is 1 or 2 || chunksPerGroup % Int8Activations.ChunksPerStep == 0);

    /// <summary>Disables AVX-512 so that tests can check the AVX2 path on a machine that has both.</summary>
    public static bool UseAvx512 { get; set; } = Avx512BW.IsSupported;

    /// <summary>
    /// Σ_c d_c·s_{g(c)}·Σ_{k∈c} q_k·xi_k over the <paramref name="chunks"/> chunks of one row (16 bytes each, packed
    /// codes), <paramref name="arranged"/> and <paramref name="laneD"/> from <see cref="Int8Activations.Arrange"/>;
    /// the group scale s_g at <paramref name="scales"/>[g·<paramref name="scaleStride"/>] for every g a step touches
    /// (the caller pads past the last group with zeros).
    /// </summary>
    public static float RowDot(int bits, byte* row, int chunks, sbyte* arranged, float* laneD, float* scales,
        int scaleStride, int groups, int chunksPerGroup)
    {
        // A single group behaves as one group per step (a step never reaches past the row's only group).
        int cpg = groups == 1 ? int.MaxValue : chunksPerGroup;
        return (UseAvx512, bits) switch
        {
            (true, 4) => RowDot512<Nibbles>(row, chunks, arranged, laneD, scales, scaleStride, cpg),
            (true, 2) => RowDot512<BitPairs>(row, chunks, arranged, laneD, scales, scaleStride, cpg),
            (true, _) => RowDot512<BitPlanes>(row, chunks, arranged, laneD, scales, scaleStride, cpg),
            (false, 4) => RowDot256<Nibbles>(row, chunks, arranged, laneD, scales, scaleStride, cpg),
            (false, 2) => RowDot256<BitPairs>(row, chunks, arranged, laneD, scales, scaleStride, cpg),
            (false, _) => RowDot256<BitPlanes>(row, chunks, arranged, laneD, scales, scaleStride, cpg),
        };
    }

    /// <summary>
    /// <see cref="RowDot"/> of <paramref name="rows"/> consecutive rows (<paramref name="rowBytes"/> apart; row r's scales
    /// at <paramref name="scales"/> + r) into <paramref name="dots"/>: the dispatch on width, group layout and vector
    /// length made once for the rows instead of once per row, the same arithmetic (bit-identical results).
    /// </summary>
    public static void Rows(int bits, byte* row, long rowBytes, int rows, int chunks, sbyte* arranged, float* laneD,
        float* scales, int scaleStride, int groups, int chunksPerGroup, float* dots)
    {
        int cpg = groups == 1 ? int.MaxValue : chunksPerGroup;
        switch (UseAvx512, bits)
        {
            case (true, 4): Rows512<Nibbles>(row, rowBytes, rows, chunks, arranged, laneD, scales, scaleStride, cpg, dots); break;
            case (true, 2): Rows512<BitPairs>(row, rowBytes, rows, chunks, arranged, laneD, scales, scaleStride, cpg, dots); break;
            case (true, _): Rows512<BitPlanes>(row, rowBytes, rows, chunks, arranged, laneD, scales, scaleStride, cpg, dots); break;
            default:
                for (int r = 0; r < rows; r++)
                    dots[r] = RowDot(bits, row + r * rowBytes, chunks, arranged, laneD, scales + r, scaleStride, groups, chunksPerGroup);
                break;
        }
    }

    private static void Rows512<T>(byte* row, long rowBytes, int rows, int chunks, sbyte* x, float* laneD, float* scales,
        int stride, int cpg, float* dots) where T : struct, IUnpack
    {
        switch (cpg)
        {
            case 1:
                for (int r = 0; r < rows; r++) dots[r] = RowDot512<T, QuadScales>(row + r * rowBytes, chunks, x, laneD, scales + r, stride, cpg);
                break;
            case 2:
                for (int r = 0; r < rows; r++) dots[r] = RowDot512<T, PairScales>(row + r * rowBytes, chunks, x, laneD, scales + r, stride, cpg);
                break;
            default:
                for (int r = 0; r < rows; r++) dots[r] = RowDot512<T, OneScale>(row + r * rowBytes, chunks, x, laneD, scales + r, stride, cpg);
                break;
        }
    }

    /// <summary>How a step's packed bytes become byte lanes of codes, pass by pass.</summary>
    private interface IUnpack
    {
        static abstract int Passes { get; }
        static abstract int Planes { get; }
        /// <summary>Planes: 4 chunks' (AVX2: 2 chunks') bytes of plane 0; plane p at + p·planeBytes.</summary>
        static abstract Vector512<short> Products512(byte* planes, long planeBytes, sbyte* x);
        static abstract Vector256<short> Products256(byte* planes, long planeBytes, sbyte* x);
    }

    /// <summary>W4: the low nibbles (even codes), then the high ones (odd codes).</summary>
    private readonly struct Nibbles : IUnpack
    {
        public static int Passes => 2;
        public static int Planes => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<short> Products512(byte* planes, long planeBytes, sbyte* x)
        {
            var v = Vector512.Load(planes);
            var mask = Vector512.Create((byte)0x0f);
            return Avx512BW.MultiplyAddAdjacent(v & mask, Vector512.Load(x)) +
                   Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask, Vector512.Load(x + 64));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Products256(byte* planes, long planeBytes, sbyte* x)
        {
            var v = Vector256.Load(planes);
            var mask = Vector256.Create((byte)0x0f);
            return Avx2.MultiplyAddAdjacent(v & mask, Vector256.Load(x)) +
                   Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask, Vector256.Load(x + 64));
        }
    }

    /// <summary>W2: bit pairs 0, 1, 2, 3 of each byte (codes 4b, 4b+1, 4b+2, 4b+3).</summary>
    private readonly struct BitPairs : IUnpack
    {
        public static int Passes => 4;
        public static int Planes => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<short> Products512(byte* planes, long planeBytes, sbyte* x)
        {
            var v = Vector512.Load(planes);
            var mask = Vector512.Create((byte)0x03);
            var w = v.AsUInt16();
            return Avx512BW.MultiplyAddAdjacent(v & mask, Vector512.Load(x)) +
                   Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(w, 2).AsByte() & mask, Vector512.Load(x + 64)) +
                   Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(w, 4).AsByte() & mask, Vector512.Load(x + 128)) +
                   Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(w, 6).AsByte() & mask, Vector512.Load(x + 192));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Products256(byte* planes, long planeBytes, sbyte* x)
        {
            var v = Vector256.Load(planes);
            var mask = Vector256.Create((byte)0x03);
            var w = v.AsUInt16();
            return Avx2.MultiplyAddAdjacent(v & mask, Vector256.Load(x)) +
                   Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(w, 2).AsByte() & mask, Vector256.Load(x + 64)) +
                   Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(w, 4).AsByte() & mask, Vector256.Load(x + 128)) +
                   Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(w, 6).AsByte() & mask, Vector256.Load(x + 192));
        }
    }

    /// <summary>
    /// W3: codes 64p + 4b + j of a chunk have their low two bits in plane p (p = 0, 1) at byte b, bits 2j, and their
    /// high bit in plane 2 at bit 64p + 4b + j, i.e. byte 8p + b/2, bit 4·(b mod 2) + j. A shuffle within each chunk's
    /// 16 bytes brings byte 8p + b/2 to lane b (vpshufb: the chunks are its 128-bit lanes), odd lanes shift theirs
    /// down by 4, and then bit j of every lane is code 4b + j's high bit, ORed in as 4. Codes ≤ 7: a pair is ≤ 1778,
    /// the 8 passes' sum ≤ 14224, within int16.
    /// </summary>
    private readonly struct BitPlanes : IUnpack
    {
        public static int Passes => 8;
        public static int Planes => 3;

        /// <summary>Per byte lane b of a chunk, the plane-2 byte holding its codes' high bits, for plane 0 and 1.</summary>
        private static readonly Vector128<byte> HighBytes0 = Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        private static readonly Vector128<byte> HighBytes1 = Vector128.Create((byte)8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
        private static readonly Vector128<byte> OddLanes = Vector128.Create((byte)0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<short> Products512(byte* planes, long planeBytes, sbyte* x)
        {
            var high = Vector512.Load(planes + 2 * planeBytes);
            var odd = Vector512.Create(Vector256.Create(OddLanes, OddLanes), Vector256.Create(OddLanes, OddLanes));
            var three = Vector512.Create((byte)0x03);
            var four = Vector512.Create((byte)0x04);
            var sum = Vector512<short>.Zero;
            for (int p = 0; p < 2; p++)
            {
                var index = p == 0 ? Vector512.Create(Vector256.Create(HighBytes0, HighBytes0), Vector256.Create(HighBytes0, HighBytes0))
                                   : Vector512.Create(Vector256.Create(HighBytes1, HighBytes1), Vector256.Create(HighBytes1, HighBytes1));
                var bits = Avx512BW.Shuffle(high, index);
                // Even lanes keep bits 0–3, odd lanes bring bits 4–7 down: bit j is code 4b + j's high bit.
                bits = Vector512.ConditionalSelect(odd, Avx512BW.ShiftRightLogical(bits.AsUInt16(), 4).AsByte(), bits);
                var low = Vector512.Load(planes + p * planeBytes);
                var w = low.AsUInt16();
                var h = bits.AsUInt16();
                sbyte* xp = x + 256 * p;
                sum += Avx512BW.MultiplyAddAdjacent((low & three) | (Avx512BW.ShiftLeftLogical(h, 2).AsByte() & four), Vector512.Load(xp));
                sum += Avx512BW.MultiplyAddAdjacent((Avx512BW.ShiftRightLogical(w, 2).AsByte() & three) | (Avx512BW.ShiftLeftLogical(h, 1).AsByte() & four), Vector512.Load(xp + 64));
                sum += Avx512BW.MultiplyAddAdjacent((Avx512BW.ShiftRightLogical(w, 4).AsByte() & three) | (bits & four), Vector512.Load(xp + 128));
                sum += Avx512BW.MultiplyAddAdjacent((Avx512BW.ShiftRightLogical(w, 6).AsByte() & three) | (Avx512BW.ShiftRightLogical(h, 1).AsByte() & four), Vector512.Load(xp + 192));
            }
            return sum;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<short> Products256(byte* planes, long planeBytes, sbyte* x)
        {
            var high = Vector256.Load(planes + 2 * planeBytes);
            var odd = Vector256.Create(OddLanes, OddLanes);
            var three = Vector256.Create((byte)0x03);
            var four = Vector256.Create((byte)0x04);
            var sum = Vector256<short>.Zero;
            for (int p = 0; p < 2; p++)
            {
                var index = p == 0 ? Vector256.Create(HighBytes0, HighBytes0) : Vector256.Create(HighBytes1, HighBytes1);
                var bits = Avx2.Shuffle(high, index);
                bits = Vector256.ConditionalSelect(odd, Avx2.ShiftRightLogical(bits.AsUInt16(), 4).AsByte(), bits);
                var low = Vector256.Load(planes + p * planeBytes);
                var w = low.AsUInt16();
                var h = bits.AsUInt16();
                sbyte* xp = x + 256 * p;
                sum += Avx2.MultiplyAddAdjacent((low & three) | (Avx2.ShiftLeftLogical(h, 2).AsByte() & four), Vector256.Load(xp));
                sum += Avx2.MultiplyAddAdjacent((Avx2.ShiftRightLogical(w, 2).AsByte() & three) | (Avx2.ShiftLeftLogical(h, 1).AsByte() & four), Vector256.Load(xp + 64));
                sum += Avx2.MultiplyAddAdjacent((Avx2.ShiftRightLogical(w, 4).AsByte() & three) | (bits & four), Vector256.Load(xp + 128));
                sum += Avx2.MultiplyAddAdjacent((Avx2.ShiftRightLogical(w, 6).AsByte() & three) | (Avx2.ShiftRightLogical(h, 1).AsByte() & four), Vector256.Load(xp + 192));
            }
            return sum;
        }
    }

    private static float RowDot512<T>(byte* row, int chunks, sbyte* x, float* laneD, float* scales, int stride, int cpg)
        where T : struct, IUnpack => cpg switch
    {
        1 => RowDot512<T, QuadScales>(row, chunks, x, laneD, scales, stride, cpg),
        2 => RowDot512<T, PairScales>(row, chunks, x, laneD, scales, stride, cpg),
        _ => RowDot512<T, OneScale>(row, chunks, x, laneD, scales, stride, cpg),
    };

    private static float RowDot256<T>(byte* row, int chunks, sbyte* x, float* laneD, float* scales, int stride, int cpg)
        where T : struct, IUnpack => cpg switch
    {
        1 => RowDot256<T, QuadScales>(row, chunks, x, laneD, scales, stride, cpg),
        2 => RowDot256<T, PairScales>(row, chunks, x, laneD, scales, stride, cpg),
        _ => RowDot256<T, OneScale>(row, chunks, x, laneD, scales, stride, cpg),
    };

    /// <summary>The whole steps, then the last one's fewer than four chunks from a copy (reading past them could leave
    /// the array at the last row), kept out of the loop's method so that its frame holds no stack buffer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RowDot512<T, TS>(byte* row, int chunks, sbyte* x, float* laneD, float* scales, int stride, int cpg)
        where T : struct, IUnpack where TS : struct, ILaneScales
    {
        int full = chunks / Int8Activations.ChunksPerStep;
        var total = Steps512<T, TS>(row, 16L * chunks, 0, full, x, laneD, scales, stride, cpg, Vector512<float>.Zero);
        if (full * Int8Activations.ChunksPerStep < chunks) total = Tail512<T, TS>(row, chunks, x, laneD, scales, stride, cpg, total);
        return Vector512.Sum(total);
    }

    private static Vector512<float> Steps512<T, TS>(byte* row, long planeBytes, int first, int end, sbyte* x, float* laneD,
        float* scales, int stride, int cpg, Vector512<float> total) where T : struct, IUnpack where TS : struct, ILaneScales
    {
        var ones = Vector512.Create((short)1);
        int stepBytes = 64 * T.Passes;
        if (typeof(TS) == typeof(OneScale))
        {
            // Steps within a group share its scale: Σ_steps d·sums first, then one multiply by s_g per group. The
            // group index advances with the loop: a division per group (one step at W4 g128) was an idiv per 128
            // weights, the loop's largest cost.
            long stepsPerGroup = cpg == int.MaxValue ? int.MaxValue : cpg / Int8Activations.ChunksPerStep;
            if (stepsPerGroup == 1)
            {
                // A group per step (W4 g128): the same arithmetic as below with the loop's bookkeeping in pointers,
                // since the group loop's per-group setup cost as much as the step itself.
                byte* w = row + 64L * first;
                sbyte* xs = x + (long)first * stepBytes;
                float* d = laneD + 16L * first, scale = scales + (long)first * stride;
                for (int s = first; s < end; s++, w += 64, xs += stepBytes, d += 16, scale += stride)
                {
                    Prefetch<T>(w, planeBytes);
                    var sums = Avx512BW.MultiplyAddAdjacent(T.Products512(w, planeBytes, xs), ones);
                    total = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums) * Vector512.Load(d), Vector512.Create(*scale), total);
                }
                return total;
            }
            int g = (int)(first / stepsPerGroup);
            for (int s = first; s < end; g++)
            {
                int groupEnd = (int)Math.Min(end, (g + 1) * stepsPerGroup);
                var group = Vector512<float>.Zero;
                for (; s < groupEnd; s++)
                {
                    Prefetch<T>(row + 64 * s, planeBytes);
                    var sums = Avx512BW.MultiplyAddAdjacent(T.Products512(row + 64 * s, planeBytes, x + (long)s * stepBytes), ones);
                    group = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sums), Vector512.Load(laneD + 16 * s), group);
                }
                total = Avx512F.FusedMultiplyAdd(group, Vector512.Create(scales[(long)g * stride]), total);
            }
            return total;
        }
        {
            byte* w = row + 64L * first;
            sbyte* xs = x + (long)first * stepBytes;
            float* d = laneD + 16L * first;
            for (int s = first; s < end; s++, w += 64, xs += stepBytes, d += 16)
            {
                Prefetch<T>(w, planeBytes);
                var sums = Avx512BW.MultiplyAddAdjacent(T.Products512(w, planeBytes, xs), ones);
                var scaled = Avx512F.ConvertToVector512Single(sums) * Vector512.Load(d);
                total = Avx512F.FusedMultiplyAdd(scaled, TS.Lanes512(scales, stride, s, cpg), total);
            }
            return total;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector512<float> Tail512<T, TS>(byte* row, int chunks, sbyte* x, float* laneD, float* scales, int stride,
        int cpg, Vector512<float> total) where T : struct, IUnpack where TS : struct, ILaneScales
    {
        int s = chunks / Int8Activations.ChunksPerStep;
        byte* copy = stackalloc byte[64 * 3];
        for (int p = 0; p < T.Planes; p++) TailCopy(row + 16L * chunks * p + 64 * s, chunks - 4 * s, copy + 64 * p);
        // The copy stands in for step s: Steps512 reads step s at copy − 64·s.
        return Steps512<T, TS>(copy - 64 * s, 64, s, s + 1, x, laneD, scales, stride, cpg, total);
    }

    private static float RowDot256<T, TS>(byte* row, int chunks, sbyte* x, float* laneD, float* scales, int stride, int cpg)
        where T : struct, IUnpack where TS : struct, ILaneScales
    {
        int full = chunks / Int8Activations.ChunksPerStep;
        var total = Steps256<T, TS>(row, 16L * chunks, 0, full, x, laneD, scales, stride, cpg, Vector256<float>.Zero);
        if (full * Int8Activations.ChunksPerStep < chunks) total = Tail256<T, TS>(row, chunks, x, laneD, scales, stride, cpg, total);
        return Vector256.Sum(total);
    }

    private static Vector256<float> Steps256<T, TS>(byte* row, long planeBytes, int first, int end, sbyte* x, float* laneD,
        float* scales, int stride, int cpg, Vector256<float> total) where T : struct, IUnpack where TS : struct, ILaneScales
    {
        var ones = Vector256.Create((short)1);
        int stepBytes = 64 * T.Passes;
        if (typeof(TS) == typeof(OneScale))
        {
            long stepsPerGroup = cpg == int.MaxValue ? int.MaxValue : cpg / Int8Activations.ChunksPerStep;
            if (stepsPerGroup == 1)
            {
                byte* w = row + 64L * first;
                sbyte* xs = x + (long)first * stepBytes;
                float* d = laneD + 16L * first, scale = scales + (long)first * stride;
                for (int s = first; s < end; s++, w += 64, xs += stepBytes, d += 16, scale += stride)
                {
                    Prefetch<T>(w, planeBytes);
                    var group = Vector256<float>.Zero;
                    for (int h = 0; h < 2; h++)
                    {
                        var sums = Avx2.MultiplyAddAdjacent(T.Products256(w + 32 * h, planeBytes, xs + 32 * h), ones);
                        group = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), Vector256.Load(d + 8 * h), group);
                    }
                    total = Fma.MultiplyAdd(group, Vector256.Create(*scale), total);
                }
                return total;
            }
            int g = (int)(first / stepsPerGroup);
            for (int s = first; s < end; g++)
            {
                int groupEnd = (int)Math.Min(end, (g + 1) * stepsPerGroup);
                var group = Vector256<float>.Zero;
                for (; s < groupEnd; s++)
                {
                    Prefetch<T>(row + 64 * s, planeBytes);
                    for (int h = 0; h < 2; h++)
                    {
                        var sums = Avx2.MultiplyAddAdjacent(T.Products256(row + 64 * s + 32 * h, planeBytes, x + (long)s * stepBytes + 32 * h), ones);
                        group = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), Vector256.Load(laneD + 16 * s + 8 * h), group);
                    }
                }
                total = Fma.MultiplyAdd(group, Vector256.Create(scales[(long)g * stride]), total);
            }
            return total;
        }
        for (int s = first; s < end; s++)
        {
            Prefetch<T>(row + 64 * s, planeBytes);
            for (int h = 0; h < 2; h++)
            {
                var sums = Avx2.MultiplyAddAdjacent(T.Products256(row + 64 * s + 32 * h, planeBytes, x + (long)s * stepBytes + 32 * h), ones);
                var scaled = Avx.ConvertToVector256Single(sums) * Vector256.Load(laneD + 16 * s + 8 * h);
                total = Fma.MultiplyAdd(scaled, TS.Lanes256(scales, stride, s, h, cpg), total);
            }
        }
        return total;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector256<float> Tail256<T, TS>(byte* row, int chunks, sbyte* x, float* laneD, float* scales, int stride,
        int cpg, Vector256<float> total) where T : struct, IUnpack where TS : struct, ILaneScales
    {
        int s = chunks / Int8Activations.ChunksPerStep;
        byte* copy = stackalloc byte[64 * 3];
        for (int p = 0; p < T.Planes; p++) TailCopy(row + 16L * chunks * p + 64 * s, chunks - 4 * s, copy + 64 * p);
        return Steps256<T, TS>(copy - 64 * s, 64, s, s + 1, x, laneD, scales, stride, cpg, total);
    }

    /// <summary>The line <see cref="StreamPrefetch.Distance"/> ahead in every plane of the step at <paramref name="step"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch<T>(byte* step, long planeBytes) where T : struct, IUnpack
    {
        for (int p = 0; p < T.Planes; p++) StreamPrefetch.Ahead(step + p * planeBytes);
    }

    private static void TailCopy(byte* bytes, int chunks, byte* buffer)
    {
        Unsafe.InitBlock(buffer, 0, 64);
        Unsafe.CopyBlock(buffer, bytes, (uint)(16 * chunks));
    }

    /// <summary>Per int32 lane of step s (four lanes per chunk), the scale of the chunk's group.</summary>
    private interface ILaneScales
    {
        static abstract Vector512<float> Lanes512(float* scales, int stride, int s, int cpg);
        static abstract Vector256<float> Lanes256(float* scales, int stride, int s, int h, int cpg);
    }

    /// <summary>A step within one group (groups of 4k chunks, or the row's only group): the loops take the group's
    /// steps together (Steps512/256), these are their per-step form.</summary>
    private readonly struct OneScale : ILaneScales
    {
        public static Vector512<float> Lanes512(float* scales, int stride, int s, int cpg) =>
            Vector512.Create(scales[(long)(4 * s / cpg) * stride]);

        public static Vector256<float> Lanes256(float* scales, int stride, int s, int h, int cpg) =>
            Vector256.Create(scales[(long)(4 * s / cpg) * stride]);
    }

    /// <summary>Groups of two chunks: two per step.</summary>
    private readonly struct PairScales : ILaneScales
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Lanes512(float* scales, int stride, int s, int cpg) =>
            Vector512.Create(Vector256.Create(scales[(long)(2 * s) * stride]), Vector256.Create(scales[(long)(2 * s + 1) * stride]));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Lanes256(float* scales, int stride, int s, int h, int cpg) =>
            Vector256.Create(scales[(long)(2 * s + h) * stride]);
    }

    /// <summary>Groups of one chunk: four per step.</summary>
    private readonly struct QuadScales : ILaneScales
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Lanes512(float* scales, int stride, int s, int cpg) =>
            Vector512.Create(Lanes256(scales, stride, s, 0, cpg), Lanes256(scales, stride, s, 1, cpg));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Lanes256(float* scales, int stride, int s, int h, int cpg) =>
            Vector256.Create(Vector128.Create(scales[(long)(4 * s + 2 * h) * stride]), Vector128.Create(scales[(long)(4 * s + 2 * h + 1) * stride]));
    }

    /// <summary>
    /// The specification, in double: y_n = Σ_g s_g·Σ_{c∈g} d_c·(Σ_{k∈c} q_k·xi_k − z_g·Σ_{k∈c} xi_k) for row
    /// <paramref name="n"/> of <paramref name="w"/> with x rounded as <see cref="Int8Activations.Quantize"/> gives
    /// (<paramref name="xi"/> in layout order, one <paramref name="d"/> per chunk); with the zero points, unlike
    /// <see cref="RowDot"/>.
    /// </summary>
    public static double Reference(LowBitWeights w, int n, ReadOnlySpan<sbyte> xi, ReadOnlySpan<float> d)
    {
        double y = 0;
        for (int k = 0; k < w.K; k++)
        {
            int g = k / w.GroupLength, c = k / w.ChunkLength;
            y += (double)w.Scale(n, g) * d[c] * ((w.Code(n, k) - w.Zero(n, g)) * (double)xi[k]);
        }
        return y;
    }
}
