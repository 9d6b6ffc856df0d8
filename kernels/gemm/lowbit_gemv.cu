// lowbit_gemv.cu — memory-bound low-bit GEMM for small batches (M ≤ 8): y[M, N] = x[M, K] · Ŵᵀ, where Ŵ[n, k] =
// (q[n, k] − z[n, g(k)])·s[n, g(k)] is an asymmetric W2/W3/W4 matrix (grouped or per-channel), x is fp16, the
// accumulation fp32, the output fp16 (…_f16) or fp32 (…_f32). DESIGN.md §8; the dtype in the name is the output's.
//
// C# reference: src/QuantNative/Inference/LowBit/LowBitLinear.cs (LowBitLinear.ForwardCpu: Ŵ dequantized to
// float32 once, y = x·Ŵᵀ by Gemm). Repack (GPTQ layout → this layout): LowBit/LowBitRepack.cs.
// Tests: tests/QuantNative.Tests/Inference/LowBit/LowBitGemvKernelTests.cs (the kernels on the emulator against the reference,
// M ∈ {1, 3, 8}, W2/W3/W4, groups 32/64/128/per-channel, K and N off the tile, poisoned outputs, refused shapes; M = 1
// at W4 with K up to 4120 for the fp16-pair body's two-chunk loop and its tail),
// LowBit/LowBitRepackTests.cs (the repack bit-exact against GptqPacker.Unpack).
//
// Weight layout (made once at load time by LowBitRepack; "chunk" = KC consecutive k of one output column):
//   KC = 32 (W4), 64 (W2), 128 (W3); P = 1 (W2, W4) or 3 (W3) 16-byte vectors per chunk; C = ceil(K / KC) chunks;
//   qweight  uint4 [N, P, C]: column n, plane p, chunk c (16 bytes each; so one warp's load of plane p for 32
//            consecutive chunks is 512 contiguous bytes). Word j (0..3) of the vector; local index i = k − c·KC:
//            W4: code i in word i/8, bits 4(i%8)..+3;  W2: code i in word i/16, bits 2(i%16)..+1;
//            W3: bit planes: low 2 bits of code i in plane i/64, word (i%64)/16, bits 2(i%16)..+1; the high bit in
//            plane 2, word i/32, bit i%32. Codes with k ≥ K are 0 (never used: those k are skipped).
//            Bytes per weight: exactly bits/8 (0.25 / 0.375 / 0.5) plus the padding of the last chunk of a column;
//            3-bit values never straddle a 16-byte vector (the bit planes keep every load aligned and whole).
//   scaleZero uint32 [G, N]: low 16 bits the fp16 scale s[n, g], high 16 bits the zero point z[n, g] as an fp16
//            (an integer 0..2^bits − 1, exact); one 4-byte load per (column, 32-k sub-block). G = ceil(K / groupLength).
//   x        fp16 [M, K] row-major, 16-byte aligned, K % 8 == 0 (rows read as 16-byte vectors).
//   out      fp16 or float32 [M, N] row-major; every element is written (once, by lane 0 of its column's warp).
//   M, N, K, groupLength, bits  int: 1 ≤ M ≤ 8; N ≥ 1; K ≥ 8, K % 8 == 0; groupLength = the group's length (K for
//            per-channel), groupLength % 32 == 0 or groupLength ≥ K (one group); bits ∈ {2, 3, 4} (others: no-op).
//   Group g of column k is k / groupLength, natural order only: act-order weights are repacked with K permuted so
//   groups are contiguous, and the C# side permutes x first (lowbit_gather.cu). Sizes after the pointers; no numeric
//   constants (the 2^23 below is a bit trick).
//
// Launch configuration (C# checks all of it before launching: src/QuantNative/Inference/LowBit/LowBitGemvLaunch.cs):
//   grid = (ceil(N / W), 1, 1), block = (32·W, 1, 1), W warps per block (C# uses W = 4); warp w of block b computes
//   column n = b·W + w for all M rows; its 32 lanes split the chunks (lane l takes chunks l, l + 32, ...), so every
//   weight byte is read exactly once, with 16-byte loads (LDG.E.128, through the non-coherent path). x is read with
//   16-byte __ldg loads (the same x vectors are read by every column's warp: they stay in L1/L2; M·K·2 bytes).
//   No shared memory; the K split is reduced by a warp xor-butterfly (qn_warp_sum, kernels/common/qn_reduce.cuh:
//   5 shuffles per row).
//
// Dequantization (fused): per 32-k sub-block the warp loads s, z once; each code c becomes a float by
//   __uint_as_float(0x4B000000 | c) = 2^23 + c (exact), and (2^23 + c) − (2^23 + z) = c − z exactly (one FADD), so a
//   weight costs a shift + a mask (LOP3) + an FADD, then one FFMA per row into a per-sub-block partial
//   p_m = Σ x[m, k]·(c − z); y_m += s·p_m once per sub-block (one FFMA per row per 32 weights).
//
// Bytes moved and the expected memory-bound ceiling (no timing claims; nothing here was run on a GPU): per weight
//   bits/8 bytes of qweight + 4/groupLength bytes of scaleZero (0.03 bytes per weight at g = 128) against 2 bytes for
//   fp16 weights; x (M·K·2) and y are negligible for N ≫ M. At M = 1 the ideal speedup over an fp16 GEMV is
//   2 / (bits/8 + 4/g): 7.1× (W2), 4.9× (W3), 3.8× (W4) at g = 128 — i.e. at best 16/bits; reaching it needs the
//   inner loop to stay below the memory time, see the SASS summary.
//
// Rows: the kernel body is instantiated for MR = 1, 2, 4, 8 rows (M = 3 runs the MR = 4 body, M = 5..7 the MR = 8
//   one, skipping rows ≥ M by uniform branches); M = 1 and 2 run without any row branch.
//
// W4, M = 1 (qn_lb_gemv1_w4, used for K < 65536): a separate body in fp16 pairs. Per pair of codes (one byte of a
//   word): PRMT copies the byte into bytes 0 and 2, LOP3 keeps the low nibble in the low half and the high nibble
//   (×16) in the high half OR-ed into the fp16 magic 0x6400 (1024 + q, 1024 + 16q), HFMA2 by (1, 1/16) plus
//   (−1024 − z, −64 − z) gives q − z exactly in both halves, HMUL2 by s rounds the weight s·(q − z) to fp16 once, and
//   HFMA2 adds x·w into a half2 accumulator — x needs no conversion and no permutation: its fp16 pairs (k, k + 1) are
//   the natural pairs of a byte. Two chunks in flight per lane (c and c + 32 loaded before use), four accumulators,
//   combined and added to the float32 total once per iteration; the group index by a multiply-high with
//   ceil(2^32 / groupLength) (exact for k·groupLength < 2^32, hence K < 65536); a tail loop takes the lane's last
//   chunks (partial ones skip 8-k words past K). Scaling before the dot keeps the fp16 partial sums at the size of
//   the output's own partial dot products (unscaled q − z times activations of several hundred would overflow fp16).
//   Numerics: Tolerances.LowBitGemvHalf2SumRel (11u of Σ|x·ŵ|, derived there), against LowBitGemvSumRel (float32).
//
// SASS instruction budget (issue 15; checked in CI by tools/gemv-sass-budget.sh on the sm_90 SASS of the fatbin,
//   CUDA 11.8). The budget: an H200 SM issues 4 warp instructions per cycle; against 4.8 TB/s that is ≈ 7
//   thread-instructions per byte of weights, so a memory-bound M = 1 GEMV may spend ≤ 3.5 thread-instructions per
//   weight at W4 g128, ≤ 2.7 at W3, ≤ 1.9 at W2 (H100, 3.35 TB/s: ≈ 1.4× more).
//   Counting method (the tool): disassemble qn_lowbit_gemv_forward_f16/_f32 with source lines (nvdisasm -gi of the
//   family compiled again for sm_90 with -lineinfo, checked to be the fatbin's SASS instruction for instruction); an
//   inner loop is a backward branch with the
//   instructions from its target to it (none of them inside another loop); its width and weights per iteration come
//   from the dequantization line tagged "SASS-BUDGET: W<bits> <OPCODE> <weights per instruction>" (rounded to whole
//   32-k sub-blocks), its rows from the x multiply-adds on the lines tagged "SASS-BUDGET: dot" (FFMA 1 weight, HFMA2
//   2) divided by the weights; of the loops with one row, the one with the most weights per iteration is the MR = 1
//   inner loop; thread-instructions per weight = its instruction count (each is issued once per lane per
//   iteration) / weights per iteration. Loop-invariant setup, the tail and the final warp reduction are outside.
//   Measured (sm_90, 2026-12-06; the same in the _f16 and _f32 kernels):
//     W4: 209 instructions per 64 weights = 3.27 per weight (budget 3.5: met): 36 PRMT, 32 LOP3, 77 HFMA2 + 20 HMUL2
//         (ptxas fuses some HMUL2 into HFMA2), 12 LDG (2 weight vectors, 2 scale/zero words, 8 x vectors), 6 HADD2,
//         2 FADD, 26 integer/address/loop. The tail loop: 155 per 32.
//     W2: 432 per 64 = 6.75 (budget 1.9: NOT met); W3: 1096 per 128 = 8.56 (budget 2.7: NOT met) — still the float32
//         body below (per weight: SHF + LOP3 + FADD to decode, HADD2.F32 + FFMA per row; W3 two of each).
//   Why W2/W3 are not done, and what would do it: the W4 recipe costs PRMT + LOP3 + HFMA2 + HMUL2 + HFMA2 per pair of
//   weights (2.5 per weight) before loads and per-chunk work. At W2 a byte holds 4 codes (1 PRMT, 2 LOP3 with
//   multipliers 1/4/16/64 folded into the fix-up HFMA2s), still ≈ 2.1 per weight with the scaling HMUL2 — over 1.9;
//   dropping the HMUL2 (scale in float32 per chunk) gives ≈ 1.9 but lets the fp16 partial sums of unscaled q − z
//   overflow for activations of a few hundred. At W3 the third bit lives in another plane and needs a second LOP3 and
//   a shift per pair. Meeting 1.9 / 2.7 needs the dot products off the FMA pipe: mma.m16n8k16 with x as the A row
//   (row r of A holding x only at the k of group r, so one HMMA sums up to 16 groups at once in float32, and the
//   1024 offset of the magic subtracted per group from Σx instead of per weight: ≈ 1 LOP3 per pair + 1/4 HMMA per
//   weight), or x staged once per block in shared memory in the order the codes pair up. Not done in this change.
//   The float32 body (MR ≥ 2, and M = 1 at W2/W3), measured the same way: per iteration (one chunk) W2 MR = 2/4/8:
//   571 / 1071 / 1865, W3: 1376 / 2370 / 3983 (see the tool's listing).
//   ptxas for the fatbin: 76 registers (sm_80), 77 (sm_90), no spills, no local memory.
//
// Numerics: x and s are fp16 values (exact in float32); c − z is exact; partial sums p_m are float32 FFMA chains of
//   ≤ 32 terms, y_m += s·p_m by FFMA, then the lanes' sums are added in a butterfly: a different summation order than
//   the reference (float32 GEMM of x with the float32 Ŵ), so results agree within float32 rounding of a ~K-term sum
//   (Tests: Tolerances.LowBitGemvRel). The fp16 output rounds the float32 sum once to nearest even.
#include "qn_cuda.h"
#include "qn_reduce.cuh"
#include "lowbit_common.cuh"

namespace {

constexpr int QN_LB_MAX_M = 8;

// Low or high fp16 of a 32-bit word, as a float.
QN_DEVICE float qn_lb_lo(uint32_t v) { return __half2float(qn_lb_half_lo(v)); }
QN_DEVICE float qn_lb_hi(uint32_t v) { return __half2float(qn_lb_half_hi(v)); }

// 2^23 + code as a float (code < 2^23): the code's bits masked and OR-ed into 0x4B000000 by one LOP3.
QN_DEVICE float qn_lb_magic(uint32_t word, int shift, uint32_t mask)
{
    return __uint_as_float(qn_lop3<QN_LB_AND_OR>(word >> shift, mask, 0x4B000000u));
}

// The 8 weights (c − z) of step t (k = 8t..8t+7) of sub-block sb of a chunk whose vectors are in w[].
template <int BITS>
QN_DEVICE void qn_lb_decode8(const uint32_t (&w)[BITS == 3 ? 12 : 4], int sb, int t, float magicZero, float (&out)[8])
{
    if constexpr (BITS == 4)
    {
        const uint32_t word = w[t]; // sub-block sb == 0 is the whole chunk
QN_LB_UNROLL
        for (int i = 0; i < 8; ++i) out[i] = qn_lb_magic(word, 4 * i, 0xfu) - magicZero;
    }
    else if constexpr (BITS == 2)
    {
        const uint32_t word = w[2 * sb + (t >> 1)];
        const int base = 16 * (t & 1);
QN_LB_UNROLL
        for (int i = 0; i < 8; ++i) out[i] = qn_lb_magic(word, base + 2 * i, 0x3u) - magicZero; // SASS-BUDGET: W2 LOP3 1
    }
    else
    {
        // Low plane words: plane sb/2 holds sub-blocks 2(sb/2), 2(sb/2)+1, two words each; high plane: word 8 + sb.
        const uint32_t low = w[4 * (sb >> 1) + 2 * (sb & 1) + (t >> 1)];
        const uint32_t high = w[8 + sb];
        const int base = 16 * (t & 1);
QN_LB_UNROLL
        for (int i = 0; i < 8; ++i)
        {
            const uint32_t lowBits = qn_lop3<QN_LB_AND_OR>(low >> (base + 2 * i), 0x3u, 0x4B000000u);
            const int j = 8 * t + i; // the high bit's position; moved to bit 2 by one shift (j is a constant)
            const uint32_t highAt2 = j >= 2 ? high >> (j - 2) : high << (2 - j);
            const uint32_t bits = qn_lop3<QN_LB_AND_OR>(highAt2, 0x4u, lowBits); // SASS-BUDGET: W3 LOP3 1
            out[i] = __uint_as_float(bits) - magicZero;
        }
    }
}

// MR: rows compiled in (1, 2, 4 or 8), M ≤ MR the rows computed; rows M..MR−1 are skipped by uniform branches.
template <int BITS, int MR, typename OutT>
QN_DEVICE void qn_lb_gemv(OutT* __restrict__ out, const uint4* __restrict__ qweight,
                          const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int M, int N, int K,
                          int groupLength)
{
    constexpr int KC = BITS == 4 ? 32 : BITS == 2 ? 64 : 128;
    constexpr int P = BITS == 3 ? 3 : 1;
    constexpr int SUB = KC / 32;
    const int warps = static_cast<int>(blockDim.x) >> 5;
    const int n = static_cast<int>(blockIdx.x) * warps + (static_cast<int>(threadIdx.x) >> 5);
    if (n >= N) return; // whole warps only: blockDim.x is a multiple of 32
    const int lane = static_cast<int>(qn_lane_id());
    const int chunks = (K + KC - 1) / KC;
    const int groups = (K + groupLength - 1) / groupLength;
    const uint4* column = qweight + static_cast<long long>(n) * P * chunks;

    float acc[MR];
QN_LB_UNROLL
    for (int m = 0; m < MR; ++m) acc[m] = 0.0f;

    for (int c = lane; c < chunks; c += 32)
    {
        uint32_t w[P * 4];
QN_LB_UNROLL
        for (int p = 0; p < P; ++p)
        {
            const uint4 v = __ldg(column + static_cast<long long>(p) * chunks + c);
            w[4 * p] = v.x;
            w[4 * p + 1] = v.y;
            w[4 * p + 2] = v.z;
            w[4 * p + 3] = v.w;
        }
QN_LB_UNROLL
        for (int sb = 0; sb < SUB; ++sb)
        {
            const int k = c * KC + sb * 32;
            if (k >= K) break;
            const int g = min(k / groupLength, groups - 1);
            const uint32_t sz = __ldg(scaleZero + static_cast<long long>(g) * N + n);
            const float s = qn_lb_lo(sz);
            const float magicZero = 8388608.0f + qn_lb_hi(sz); // 2^23 + z, exact
            float part[MR];
QN_LB_UNROLL
            for (int m = 0; m < MR; ++m) part[m] = 0.0f;
QN_LB_UNROLL
            for (int t = 0; t < 4; ++t)
            {
                const int k0 = k + 8 * t;
                if (k0 >= K) break;
                float wv[8];
                qn_lb_decode8<BITS>(w, sb, t, magicZero, wv);
QN_LB_UNROLL
                for (int m = 0; m < MR; ++m)
                {
                    if (MR == 1 || m < M)
                    {
                        const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + static_cast<long long>(m) * K + k0));
                        float p = part[m];
                        p = fmaf(qn_lb_lo(xv.x), wv[0], p); // SASS-BUDGET: dot
                        p = fmaf(qn_lb_hi(xv.x), wv[1], p); // SASS-BUDGET: dot
                        p = fmaf(qn_lb_lo(xv.y), wv[2], p); // SASS-BUDGET: dot
                        p = fmaf(qn_lb_hi(xv.y), wv[3], p); // SASS-BUDGET: dot
                        p = fmaf(qn_lb_lo(xv.z), wv[4], p); // SASS-BUDGET: dot
                        p = fmaf(qn_lb_hi(xv.z), wv[5], p); // SASS-BUDGET: dot
                        p = fmaf(qn_lb_lo(xv.w), wv[6], p); // SASS-BUDGET: dot
                        p = fmaf(qn_lb_hi(xv.w), wv[7], p); // SASS-BUDGET: dot
                        part[m] = p;
                    }
                }
            }
QN_LB_UNROLL
            for (int m = 0; m < MR; ++m)
                if (MR == 1 || m < M) acc[m] = fmaf(s, part[m], acc[m]);
        }
    }

QN_LB_UNROLL
    for (int m = 0; m < MR; ++m)
    {
        if (MR == 1 || m < M)
        {
            const float v = qn_warp_sum(acc[m]);
            if (lane == 0) qn_lb_store(out, static_cast<long long>(m) * N + n, v);
        }
    }
}

// ---- MR = 1, W4: weights dequantized to fp16 pairs and dotted with HFMA2 (the header's "W4, M = 1" section) -------
QN_DEVICE __half2 qn_lb_h2(uint32_t bits) { return *reinterpret_cast<const __half2*>(&bits); }

// fp16 constants as the bit patterns of half2 (low half first in the name).
constexpr uint32_t QN_LB_H2_ONE_SIXTEENTH = 0x2C003C00u; // (1, 1/16)
constexpr uint32_t QN_LB_H2_M1024_M64 = 0xD400E400u;     // (−1024, −64)
constexpr uint32_t QN_LB_MAGIC_1024 = 0x64006400u;       // (1024, 1024): a code OR-ed into the low mantissa bits
constexpr uint32_t QN_LB_W4_PAIR_MASK = 0x00F0000Fu;     // low nibble into the low half, high nibble (×16) into the high

// The 8 weights s·(q − z) of one 32-bit word (codes k..k+7, nibble i = code k + i) dotted with the 8 x of one 16-byte
// vector (half2 j = x[k + 2j], x[k + 2j + 1]), into two half2 accumulators. Per pair of codes (byte b of the word):
// PRMT copies byte b into bytes 0 and 2; LOP3 keeps its low nibble in the low half and its high nibble in the high
// half, OR-ed into 0x6400 (1024 + q, 1024 + 16q, both exact); HFMA2 by (1, 1/16) plus (−1024 − z, −64 − z) gives
// (q − z) exactly; HMUL2 by s rounds s·(q − z) to fp16 once; HFMA2 adds x·w into the accumulator.
QN_DEVICE void qn_lb_w4_dot8(uint32_t word, const uint4 xv, __half2 s2, __half2 fix, __half2& acc0, __half2& acc1)
{
    const uint32_t xs[4] = {xv.x, xv.y, xv.z, xv.w};
QN_LB_UNROLL
    for (int b = 0; b < 4; ++b)
    {
        const uint32_t t = __byte_perm(word, 0u, 0x1111u * static_cast<uint32_t>(b));
        const uint32_t v = qn_lop3<QN_LB_AND_OR>(t, QN_LB_W4_PAIR_MASK, QN_LB_MAGIC_1024);
        const __half2 d = __hfma2(qn_lb_h2(v), qn_lb_h2(QN_LB_H2_ONE_SIXTEENTH), fix); // SASS-BUDGET: W4 HFMA2 2
        const __half2 w = __hmul2(d, s2);
        if (b & 1) acc1 = __hfma2(w, qn_lb_h2(xs[b]), acc1); // SASS-BUDGET: dot
        else acc0 = __hfma2(w, qn_lb_h2(xs[b]), acc0);     // SASS-BUDGET: dot
    }
}

// The constants of one chunk's group: (s, s) and (−1024 − z, −64 − z) from its scaleZero word.
QN_DEVICE void qn_lb_w4_group(uint32_t sz, __half2& s2, __half2& fix)
{
    s2 = qn_lb_h2(__byte_perm(sz, 0u, 0x1010u));
    fix = __hsub2(qn_lb_h2(QN_LB_H2_M1024_M64), qn_lb_h2(__byte_perm(sz, 0u, 0x3232u)));
}

// The last chunks of a lane (k may reach past K: 8-k words past K are skipped), one at a time.
QN_DEVICE float qn_lb_w4_tail(const uint4* __restrict__ column, const uint32_t* __restrict__ szColumn,
                              const uint4* __restrict__ x4, int c, int chunks, int N, int K, uint32_t groupMagic)
{
    float acc = 0.0f;
    for (; c < chunks; c += 32)
    {
        const uint4 wv = __ldg(column + c);
        const uint32_t k = static_cast<uint32_t>(c) * 32u;
        __half2 s2, fix;
        qn_lb_w4_group(__ldg(szColumn + static_cast<long long>(__umulhi(k, groupMagic)) * N), s2, fix);
        __half2 acc0 = qn_lb_h2(0u), acc1 = qn_lb_h2(0u);
        const uint32_t words[4] = {wv.x, wv.y, wv.z, wv.w};
QN_LB_UNROLL
        for (int j = 0; j < 4; ++j)
            if (static_cast<int>(k) + 8 * j < K) qn_lb_w4_dot8(words[j], __ldg(x4 + k / 8 + j), s2, fix, acc0, acc1);
        const __half2 sum = __hadd2(acc0, acc1);
        acc += __low2float(sum) + __high2float(sum);
    }
    return acc;
}

// Assumes K < 65536 (the group index by multiply-high; the dispatcher sends larger K to the float32 body).
template <typename OutT>
QN_DEVICE void qn_lb_gemv1_w4(OutT* __restrict__ out, const uint4* __restrict__ qweight,
                              const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int N, int K,
                              int groupLength)
{
    const int warps = static_cast<int>(blockDim.x) >> 5;
    const int n = static_cast<int>(blockIdx.x) * warps + (static_cast<int>(threadIdx.x) >> 5);
    if (n >= N) return; // whole warps only: blockDim.x is a multiple of 32
    const int lane = static_cast<int>(qn_lane_id());
    const int chunks = (K + 31) / 32, full = K / 32;
    // Group of k: k / groupLength = umulhi(k, ceil(2^32 / groupLength)), exact for k·groupLength < 2^32 (K < 65536).
    const uint32_t groupMagic = 0xFFFFFFFFu / static_cast<uint32_t>(groupLength) + 1u;
    const uint4* column = qweight + static_cast<long long>(n) * chunks;
    const uint32_t* szColumn = scaleZero + n;
    const uint4* x4 = reinterpret_cast<const uint4*>(x);
    float acc = 0.0f;
    int c = lane;
    // Two chunks in flight per lane (c and c + 32: both weight vectors are loaded before either is used), summed in
    // four fp16 accumulators that meet once per iteration.
    const uint4* pw = column + c;
    const uint4* px = x4 + 4 * c;
    for (; c + 32 < full; c += 64, pw += 64, px += 256)
    {
        const uint4 w0 = __ldg(pw);     
        const uint4 w1 = __ldg(pw + 32);
        const uint32_t k = static_cast<uint32_t>(c) * 32u;
        __half2 s0, fix0, s1, fix1;
        qn_lb_w4_group(__ldg(szColumn + __umulhi(k, groupMagic) * static_cast<uint32_t>(N)), s0, fix0);
        qn_lb_w4_group(__ldg(szColumn + __umulhi(k + 1024u, groupMagic) * static_cast<uint32_t>(N)), s1, fix1);
        __half2 a0 = qn_lb_h2(0u), a1 = qn_lb_h2(0u), a2 = qn_lb_h2(0u), a3 = qn_lb_h2(0u);
        qn_lb_w4_dot8(w0.x, __ldg(px), s0, fix0, a0, a1);
        qn_lb_w4_dot8(w0.y, __ldg(px + 1), s0, fix0, a0, a1);
        qn_lb_w4_dot8(w0.z, __ldg(px + 2), s0, fix0, a0, a1);
        qn_lb_w4_dot8(w0.w, __ldg(px + 3), s0, fix0, a0, a1);
        qn_lb_w4_dot8(w1.x, __ldg(px + 128), s1, fix1, a2, a3);
        qn_lb_w4_dot8(w1.y, __ldg(px + 129), s1, fix1, a2, a3);
        qn_lb_w4_dot8(w1.z, __ldg(px + 130), s1, fix1, a2, a3);
        qn_lb_w4_dot8(w1.w, __ldg(px + 131), s1, fix1, a2, a3);
        const __half2 sum = __hadd2(__hadd2(a0, a1), __hadd2(a2, a3));
        acc += __low2float(sum) + __high2float(sum);
    }
    acc += qn_lb_w4_tail(column, szColumn, x4, c, chunks, N, K, groupMagic);
    const float v = qn_warp_sum(acc);
    if (lane == 0) qn_lb_store(out, n, v);
}

// The body for M rows: MR = 1, 2, 4 or 8 (qn_lb_dispatch_bits picks BITS).
struct QnLbGemvRows
{
    template <int BITS, typename OutT>
    QN_DEVICE static void run(OutT* out, const uint4* qweight, const uint32_t* scaleZero, const __half* x, int M,
                              int N, int K, int groupLength)
    {
        if (M == 1 && BITS == 4 && K < 65536) qn_lb_gemv1_w4(out, qweight, scaleZero, x, N, K, groupLength);
        else if (M == 1) qn_lb_gemv<BITS, 1>(out, qweight, scaleZero, x, M, N, K, groupLength);
        else if (M == 2) qn_lb_gemv<BITS, 2>(out, qweight, scaleZero, x, M, N, K, groupLength);
        else if (M <= 4) qn_lb_gemv<BITS, 4>(out, qweight, scaleZero, x, M, N, K, groupLength);
        else if (M <= QN_LB_MAX_M) qn_lb_gemv<BITS, QN_LB_MAX_M>(out, qweight, scaleZero, x, M, N, K, groupLength);
    }
};

} // namespace

QN_KERNEL void qn_lowbit_gemv_forward_f16(__half* __restrict__ out, const uint4* __restrict__ qweight,
                                          const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int M,
                                          int N, int K, int groupLength, int bits)
{
    qn_lb_dispatch_bits<QnLbGemvRows>(bits, out, qweight, scaleZero, x, M, N, K, groupLength);
}

QN_KERNEL void qn_lowbit_gemv_forward_f32(float* __restrict__ out, const uint4* __restrict__ qweight,
                                          const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int M,
                                          int N, int K, int groupLength, int bits)
{
    qn_lb_dispatch_bits<QnLbGemvRows>(bits, out, qweight, scaleZero, x, M, N, K, groupLength);
}

QN_REGISTER_KERNELS(qn_lowbit_gemv_forward_f16, qn_lowbit_gemv_forward_f32)
