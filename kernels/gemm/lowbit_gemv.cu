// lowbit_gemv.cu — memory-bound low-bit GEMM for small batches (M ≤ 8): y[M, N] = x[M, K] · Ŵᵀ, where Ŵ[n, k] =
// (q[n, k] − z[n, g(k)])·s[n, g(k)] is an asymmetric W2/W3/W4 matrix (grouped or per-channel), x is fp16, the
// accumulation fp32, the output fp16 (…_f16) or fp32 (…_f32). DESIGN.md §8; the dtype in the name is the output's.
//
// C# reference: src/QuantNative/Inference/LowBit/LowBitLinear.cs (LowBitLinear.ForwardCpu: Ŵ dequantized to
// float32 once, y = x·Ŵᵀ by Gemm). Repack (GPTQ layout → this layout): LowBit/LowBitRepack.cs.
// Tests: tests/QuantNative.Tests/Inference/LowBit/LowBitGemvKernelTests.cs (the kernels on the emulator against the reference,
// M ∈ {1, 3, 8}, W2/W3/W4, groups 32/64/128/per-channel, K and N off the tile, poisoned outputs, refused shapes; M = 1
// at W4 with K up to 4120 for the fp16-pair body's two-chunk loop and its tail; M = 1 at W2/W3 with K up to 4104 and
// groups 128/256/per-channel for the tensor-core body's tiles, steps and columns past N),
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
//   column n = b·W + w for all M rows (the W2/W3 M = 1 tensor-core body: grid ceil(N / 16W), 16 columns per warp, see
//   its section); its 32 lanes split the chunks (lane l takes chunks l, l + 32, ...), so every
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
// Rows: the kernel body is instantiated for MR = 1 (W4 only), 2, 4, 8 rows (M = 3 runs the MR = 4 body, M = 5..7 the
//   MR = 8 one, skipping rows ≥ M by uniform branches); M = 1 runs the W4 fp16-pair body or the W2/W3 tensor-core
//   body below, and at W2/W3 with groups of 32 or 64 k (which a 128-k step would straddle) the MR = 2 body.
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
// W2/W3, M = 1 (qn_lb_gemv1_mma, used when groupLength % 128 == 0 or one group: LowBitGemvLaunch.DotsOnTensorCores):
//   the dot products on the tensor cores. mma.m16n8k16 with A = weights (its 16 rows are 16 output columns: lane
//   (g = lane / 4, tig = lane % 4) holds columns g and g + 8 at 4 k each), B = x (the same in all 8 columns), so D's
//   row r is column r's dot product over the mma's 16 k, summed in float32 with every product exact.
//   Per 128-k step (one group: the quad's four lanes take 32 consecutive k each, lane tig k 32·tig .. + 31: at W2
//   words 2(tig % 2), +1 of chunk 2s + tig / 2, at W3 the same words of low-bit plane tig / 2 of chunk s and word tig
//   of its high-bit plane, so the quad reads 32 contiguous bytes per column at W2):
//   - decode without subtracting anything: one LOP3 per pair of codes, (word shifted) & field mask | magic, where the
//     magic's exponent makes the half exactly off + q (a field at mantissa bit b: off = 2^(10 − b)); a word's codes
//     i and i + 8 sit at the same bit of the two halves, so 3 shifts of a word (<< 4, none, >> 6) put all 8 pairs at
//     bits 4, 6 or 8 (off 64, 16, 4); W3's high-bit plane pairs bits b, b + 16 of its word at bits 7..9 (off 8, 4, 2;
//     6 shifts) into a second accumulator, added ×4;
//   - x is staged once per block (a tile of 2048 k, all 4 warps' 64 columns share it, 8.25 KiB of static shared
//     memory) in the order of those pairs, (x[a], x[a + 8]) and (x[b], x[b + 16]), with per step O = Σ x·off and
//     S = Σ x (pairwise) and the step's scaleZero row; one LDS.128 feeds two mma (8 k) for both columns;
//   - per step and column, y += s·(D − O − z·S) = s·Σ x·(q − z) (no fp16 rounding of any weight; the offsets' price
//     is float32 rounding of sums up to ≈ 67·Σ|x| at W2: Tolerances.LowBitGemvMmaSumRel).
//   Columns past N compute on column N − 1 (every warp stages and reaches the barriers) and store nothing; a W2 lane
//   whose chunk is past the column's last re-reads the last (its staged x are zeros past K).
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
//   Measured (sm_90, 2026-12-06; the same in the _f16 and _f32 kernels; all three checked in CI, --check 4,3,2):
//     width  per weight  instructions / weights per lane-iteration   before (float32 body at W2/W3)
//     W4     3.27        209 / 64 (budget 3.5)                       3.27
//     W3     2.45        157 / 64 (budget 2.7)                       8.56 (1096 / 128)
//     W2     1.70        109 / 64 (budget 1.9)                       6.75 (432 / 64)
//     W4: 36 PRMT, 32 LOP3, 64 HFMA2 + 32 HMUL2, 12 LDG (2 weight vectors, 2 scale/zero words, 8 x vectors), 7 HADD2,
//         2 FADD, 26 integer/address/loop. The tail loop: 155 per 32.
//     W2 (one 128-k step: 2 columns × 32 k per lane): 32 LOP3 + 11 SHF (decode: 4 words), 8 HMMA, 4 LDG (2 × 64-bit
//         weights, 2 scale/zero words), 5 LDS (4 × 128-bit x, 1 × 128-bit sums), 4 HADD2 (s, z to float32) + 4 FFMA
//         + 2 FADD (the offsets, zero and scale), 39 integer/address/uniform/loop (IADD3, LEA, IMAD, ULDC, NOP, BRA).
//     W3: 64 LOP3 + 16 SHF (4 low-plane words, 2 high-plane words), 16 HMMA, 6 LDG (+ the two 32-bit high words),
//         9 LDS, 4 HADD2 + 6 FFMA + 2 FADD, 34 integer/address/loop.
//   Outside the loop, per block and 2048-k tile (amortized over its 64 columns): the staging (per thread of the
//   first 64: 4 LDG.128, 32 conversions, 2 × 31 adds and 32 multiplies, 16 or 32 PRMT, 4 or 8 STS.128, 4 shuffles:
//   ≈ 150–200 instructions, ≈ 0.1 per weight of the tile's 131072) and 2 barriers; per column 2 stores.
//   The tensor pipe (an estimate, not measured): an mma covers 256 weight slots of a warp (B's 8 columns repeat x, so
//   7/8 of its work is redundant); memory-bound at 4.8 TB/s an H200 needs ≈ 0.26 (W2) / 0.35 (W3: two mma per slot)
//   m16n8k16 per SM-cycle (132 SMs, ~1.9 GHz) against a dense fp16 peak of ≈ 1 (989 TFLOPS); mma.sync reaches only
//   part of that peak on Hopper, so at W3 the margin is not large — the GPU run has to show it.
//   The float32 body (MR ≥ 2; M = 1 at W4 with K ≥ 65536), measured the same way: per iteration (one chunk) W2
//   MR = 2/4/8: 571 / 1071 / 1865, W3: 1376 / 2370 / 3983 (see the tool's listing).
//   ptxas for the fatbin: 80 registers (sm_80), 72 (sm_86/89/90), 8448 bytes of static shared memory (the W2/W3
//   stage; every launch of these kernels reserves it: by registers 7 blocks of 128 fit an SM, by shared memory ≥ 11),
//   no spills, no local memory.
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

// ---- MR = 1, W2/W3: dot products on the tensor cores (the header's "W2/W3, M = 1" section) -----------------------
constexpr int QN_LB_MMA_STEP_K = 128;      // k per step: one group's worth for a quad (groupLength % 128 == 0)
constexpr int QN_LB_MMA_TILE_STEPS = 16;   // steps per staged tile of x (2048 k)
constexpr int QN_LB_MMA_COLUMNS = 16;      // output columns per warp (the m16 rows of the mma's A)

// x of one tile, staged once per block in the order the lanes' decoded pairs need it, and per step the two sums
// that remove the magic's offsets and the zero point: O = Σ x·off(k) (+ 4·Σ x·off_hi(k) at W3), S = Σ x, and the
// step's group row g·N of scaleZero. low[step][j][tig]: component c = (x[a], x[a + 8]) with a = 16(j / 2) + 4(j % 2) + c
// relative to the lane's 32 k (k0 + 128·step + 32·tig); high[step][j][tig]: component c = (x[b], x[b + 16]),
// b = 4j + c. j-major, tig-minor: a quad's four 16-byte reads are 64 contiguous bytes (no bank conflict; the eight
// quads of a warp read the same ones).
struct QnLbMmaStage
{
    uint4 low[QN_LB_MMA_TILE_STEPS][4][4];
    uint4 high[QN_LB_MMA_TILE_STEPS][4][4];
    uint4 sums[QN_LB_MMA_TILE_STEPS];
};

// One buffer for the W2 and W3 bodies (8.25 KiB of static shared memory per block of these kernels).
QN_DEVICE QnLbMmaStage& qn_lb_mma_stage_buffer()
{
    __shared__ QnLbMmaStage stage;
    return stage;
}

// The magic for a field whose lowest bit is mantissa bit `bit` of both fp16 halves: the exponent 2^(10 − bit), so
// the half is 2^(10 − bit) + q exactly (q < 2^(10 − bit) after the shift), e.g. bit 8: 0x4400 | q << 8 = 4 + q.
__host__ __device__ constexpr uint32_t qn_lb_mma_magic(int bit) { return ((25u - static_cast<uint32_t>(bit)) << 10) * 0x10001u; }
__host__ __device__ constexpr float qn_lb_mma_offset(int bit) { return static_cast<float>(1 << (10 - bit)); }

// 2-bit pairs: the 16 codes of a word (code i at bits 2i: codes 0..7 in the low half, 8..15 in the high half) become
// 8 half2 (off + q_p, off + q_{p+8}), pair p's field at mantissa bit qn_lb_mma_low_bit(p) of the word shifted left
// by 4 (p = 0..2), as it is (p = 3, 4) or right by 6 (p = 5..7): offsets 64, 16, 4, 16, 4, 64, 16, 4.
__host__ __device__ constexpr int qn_lb_mma_low_bit(int p) { return p < 3 ? 2 * p + 4 : p < 5 ? 2 * p : 2 * p - 6; }
// 1-bit pairs (W3's high-bit plane): bits b and b + 16 of a word become (off + h_b, off + h_{b+16}), bit b moved to
// mantissa bit 7, 8 or 9 (offsets 8, 4, 2: small, since these sums count 4× and their offsets join O) by shifting the
// word by qn_lb_mma_high_shift(b) (left if positive); a shift moves bits across the halves only below bit 7.
__host__ __device__ constexpr int qn_lb_mma_high_shift(int b)
{
    return b == 0 ? 7 : b < 4 ? 6 : b < 7 ? 3 : b < 10 ? 0 : b < 13 ? -3 : -6;
}
__host__ __device__ constexpr int qn_lb_mma_high_bit(int b) { return b + qn_lb_mma_high_shift(b); }

// The offset a k at position i (0..31) of a lane's 32 k carries: its low-bit pair's, plus 4× its high-bit pair's at
// W3 (the high-bit sums are multiplied by 4 before the offsets are removed).
template <int BITS>
QN_DEVICE float qn_lb_mma_offset_at(int i)
{
    const float low = qn_lb_mma_offset(qn_lb_mma_low_bit(i & 7));
    return BITS == 3 ? low + 4.0f * qn_lb_mma_offset(qn_lb_mma_high_bit(i & 15)) : low;
}

QN_DEVICE void qn_lb_mma_decode_low(uint32_t word, uint32_t (&r)[8])
{
    const uint32_t up = word << 4, down = word >> 6;
QN_LB_UNROLL
    for (int p = 0; p < 8; ++p)
    {
        const int bit = qn_lb_mma_low_bit(p);
        r[p] = qn_lop3<QN_LB_AND_OR>(p < 3 ? up : p < 5 ? word : down, 0x30003u << bit, qn_lb_mma_magic(bit));
    }
}

QN_DEVICE void qn_lb_mma_decode_high(uint32_t word, uint32_t (&r)[16])
{
    const uint32_t shifted[6] = {word << 7, word << 6, word << 3, word, word >> 3, word >> 6};
QN_LB_UNROLL
    for (int b = 0; b < 16; ++b)
    {
        const int bit = qn_lb_mma_high_bit(b), shift = qn_lb_mma_high_shift(b);
        const uint32_t source = shifted[shift == 7 ? 0 : shift == 6 ? 1 : shift == 3 ? 2 : shift == 0 ? 3 : shift == -3 ? 4 : 5];
        r[b] = qn_lop3<QN_LB_AND_OR>(source, 0x10001u << bit, qn_lb_mma_magic(bit));
    }
}

// v[0] + … + v[2W − 1] summed pairwise (v[i] += v[i + W], then W / 2, …: log2(2W) levels); v is overwritten.
template <int W>
QN_DEVICE float qn_lb_pairwise_sum(float (&v)[32])
{
QN_LB_UNROLL
    for (int i = 0; i < W; ++i) v[i] += v[i + W];
    if constexpr (W > 1) return qn_lb_pairwise_sum<W / 2>(v);
    else return v[0];
}

// Stages the tile of x at k0 (steps of 128 k; k ≥ K as zeros) and its per-step sums. Unit u = 4·step + tig (one
// lane's 32 k) is staged by thread u of the block; the four units of a step are adjacent lanes of one warp (the
// sums meet by two shuffles), so whole warps take part.
template <int BITS>
QN_DEVICE void qn_lb_mma_stage(QnLbMmaStage& stage, const __half* __restrict__ x, int k0, int N, int K,
                               int groupLength, int groups)
{
    const uint4* x4 = reinterpret_cast<const uint4*>(x);
    for (int u = static_cast<int>(threadIdx.x); u < 4 * QN_LB_MMA_TILE_STEPS; u += static_cast<int>(blockDim.x))
    {
        const int step = u >> 2, tig = u & 3;
        const int k = k0 + QN_LB_MMA_STEP_K * step + 32 * tig;
        uint32_t xw[16]; // xw[m] = (x[k + 2m], x[k + 2m + 1])
QN_LB_UNROLL
        for (int v = 0; v < 4; ++v)
        {
            const uint4 q = k + 8 * v < K ? __ldg(x4 + k / 8 + v) : make_uint4(0u, 0u, 0u, 0u);
            xw[4 * v] = q.x;
            xw[4 * v + 1] = q.y;
            xw[4 * v + 2] = q.z;
            xw[4 * v + 3] = q.w;
        }
        // Σ x and Σ x·off over the 32 k, pairwise (5 levels; each x·off is exact: off is a sum of two powers of 2).
        float xs[32], offs[32];
QN_LB_UNROLL
        for (int i = 0; i < 32; ++i)
        {
            xs[i] = __half2float(i & 1 ? qn_lb_half_hi(xw[i >> 1]) : qn_lb_half_lo(xw[i >> 1]));
            offs[i] = xs[i] * qn_lb_mma_offset_at<BITS>(i);
        }
        float sum = qn_lb_pairwise_sum<16>(xs), offsetSum = qn_lb_pairwise_sum<16>(offs);
QN_LB_UNROLL
        for (int j = 0; j < 4; ++j)
        {
            uint32_t o[4];
QN_LB_UNROLL
            for (int c = 0; c < 4; ++c)
            {
                const int a = 16 * (j >> 1) + 4 * (j & 1) + c;
                o[c] = __byte_perm(xw[a >> 1], xw[(a >> 1) + 4], a & 1 ? 0x7632u : 0x5410u);
            }
            stage.low[step][j][tig] = make_uint4(o[0], o[1], o[2], o[3]);
            if constexpr (BITS == 3)
            {
QN_LB_UNROLL
                for (int c = 0; c < 4; ++c)
                {
                    const int b = 4 * j + c;
                    o[c] = __byte_perm(xw[b >> 1], xw[(b >> 1) + 8], b & 1 ? 0x7632u : 0x5410u);
                }
                stage.high[step][j][tig] = make_uint4(o[0], o[1], o[2], o[3]);
            }
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        offsetSum += __shfl_xor_sync(0xffffffffu, offsetSum, 1);
        offsetSum += __shfl_xor_sync(0xffffffffu, offsetSum, 2);
        if (tig == 0)
        {
            const int kStep = k0 + QN_LB_MMA_STEP_K * step;
            const uint32_t groupRow = static_cast<uint32_t>(min(kStep / groupLength, groups - 1)) * static_cast<uint32_t>(N);
            stage.sums[step] = make_uint4(__float_as_uint(offsetSum), __float_as_uint(sum), groupRow, 0u);
        }
    }
}

// One step's low-bit (W2: all) products of the lane's two words of columns A (rows g) and B (rows g + 8): per word
// 8 pairs, 4 mma of 16 k (pairs p, p + 1 of each column against x pairs from the stage), into c.
QN_DEVICE void qn_lb_mma_low(const uint4 (&xs)[4][4], int tig, const uint32_t (&wordsA)[2],
                             const uint32_t (&wordsB)[2], float (&c)[4])
{
QN_LB_UNROLL
    for (int w = 0; w < 2; ++w)
    {
        uint32_t ra[8], rb[8];
        qn_lb_mma_decode_low(wordsA[w], ra);
        qn_lb_mma_decode_low(wordsB[w], rb);
QN_LB_UNROLL
        for (int h = 0; h < 4; ++h)
        {
            const uint4 xv = xs[2 * w + (h >> 1)][tig];
            const int p = 2 * h;
            const uint32_t a[4] = {ra[p], rb[p], ra[p + 1], rb[p + 1]};
            const uint32_t b[2] = {h & 1 ? xv.z : xv.x, h & 1 ? xv.w : xv.y};
            qn_mma_m16n8k16_f16(c, a, b, c); // SASS-BUDGET: dot
        }
    }
}

// W3's high-bit plane: the lane's word of 32 bits per column, 16 pairs, 8 mma into c (h = 0/1 each; ×4 later).
QN_DEVICE void qn_lb_mma_high(const uint4 (&xs)[4][4], int tig, uint32_t wordA, uint32_t wordB, float (&c)[4])
{
    uint32_t ra[16], rb[16];
    qn_lb_mma_decode_high(wordA, ra);
    qn_lb_mma_decode_high(wordB, rb);
QN_LB_UNROLL
    for (int h = 0; h < 8; ++h)
    {
        const uint4 xv = xs[h >> 1][tig];
        const int b = 2 * h;
        const uint32_t a[4] = {ra[b], rb[b], ra[b + 1], rb[b + 1]};
        const uint32_t bx[2] = {h & 1 ? xv.z : xv.x, h & 1 ? xv.w : xv.y};
        qn_mma_m16n8k16_f16(c, a, bx, c);
    }
}

// Whether M = 1 runs this body (the same rule as LowBitGemvLaunch.DotsOnTensorCores): every 128-k step lies in one
// group.
QN_DEVICE bool qn_lb_mma_fits(int K, int groupLength) { return groupLength % QN_LB_MMA_STEP_K == 0 || groupLength >= K; }

// Warp w of block b: columns 16·(W·b + w) + 0..15; lane (g = lane / 4, tig = lane % 4) decodes columns +g (mma rows g)
// and +g + 8 (rows g + 8) at k 32·tig .. + 31 of each 128-k step.
template <int BITS, typename OutT>
QN_DEVICE void qn_lb_gemv1_mma(OutT* __restrict__ out, const uint4* __restrict__ qweight,
                               const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int N, int K,
                               int groupLength)
{
    constexpr int KC = BITS == 2 ? 64 : 128;
    constexpr int P = BITS == 3 ? 3 : 1;
    QnLbMmaStage& stage = qn_lb_mma_stage_buffer();
    const int warps = static_cast<int>(blockDim.x) >> 5;
    const int lane = static_cast<int>(qn_lane_id());
    const int g = lane >> 2, tig = lane & 3;
    const int nA = (static_cast<int>(blockIdx.x) * warps + (static_cast<int>(threadIdx.x) >> 5)) * QN_LB_MMA_COLUMNS + g;
    const int nB = nA + 8;
    const int chunks = (K + KC - 1) / KC;
    const int groups = (K + groupLength - 1) / groupLength;
    // Columns past N (the last warp's) compute on column N − 1 and store nothing: every warp stages and syncs.
    const uint4* colA = qweight + static_cast<long long>(min(nA, N - 1)) * P * chunks;
    const uint4* colB = qweight + static_cast<long long>(min(nB, N - 1)) * P * chunks;
    const uint32_t* szA = scaleZero + min(nA, N - 1);
    const uint32_t* szB = scaleZero + min(nB, N - 1);
    float yA = 0.0f, yB = 0.0f;
    for (int k0 = 0; k0 < K; k0 += QN_LB_MMA_STEP_K * QN_LB_MMA_TILE_STEPS)
    {
        __syncthreads(); // the previous tile is consumed
        qn_lb_mma_stage<BITS>(stage, x, k0, N, K, groupLength, groups);
        __syncthreads();
        const int steps = min(QN_LB_MMA_TILE_STEPS, (K - k0 + QN_LB_MMA_STEP_K - 1) / QN_LB_MMA_STEP_K);
        int s = k0 / QN_LB_MMA_STEP_K;
        for (int step = 0; step < steps; ++step, ++s)
        {
            const uint4 sums = stage.sums[step];
            const uint32_t zsA = __ldg(szA + sums.z), zsB = __ldg(szB + sums.z);
            float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            float dotA, dotB;
            if constexpr (BITS == 2)
            {
                // Chunks 2s, 2s + 1 (the quad's 32 contiguous bytes); a lane past the column's last chunk re-reads
                // it (its x are the staged zeros past K).
                const int chunk = min(2 * s + (tig >> 1), chunks - 1);
                const uint2 wA = __ldg(reinterpret_cast<const uint2*>(colA + chunk) + (tig & 1));
                const uint2 wB = __ldg(reinterpret_cast<const uint2*>(colB + chunk) + (tig & 1));
                const uint32_t wordsA[2] = {wA.x, wA.y}, wordsB[2] = {wB.x, wB.y};
                qn_lb_mma_low(stage.low[step], tig, wordsA, wordsB, c); // SASS-BUDGET: W2 LOP3 2
                dotA = c[0];
                dotB = c[2];
            }
            else
            {
                // Chunk s: low-bit plane tig / 2, words 2(tig % 2), +1; high-bit plane word tig.
                const uint2 wA = __ldg(reinterpret_cast<const uint2*>(colA + (tig >> 1) * chunks + s) + (tig & 1));
                const uint2 wB = __ldg(reinterpret_cast<const uint2*>(colB + (tig >> 1) * chunks + s) + (tig & 1));
                const uint32_t hA = __ldg(reinterpret_cast<const uint32_t*>(colA + 2 * chunks + s) + tig);
                const uint32_t hB = __ldg(reinterpret_cast<const uint32_t*>(colB + 2 * chunks + s) + tig);
                const uint32_t wordsA[2] = {wA.x, wA.y}, wordsB[2] = {wB.x, wB.y};
                qn_lb_mma_low(stage.low[step], tig, wordsA, wordsB, c); // SASS-BUDGET: W3 LOP3 2
                float ch[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                qn_lb_mma_high(stage.high[step], tig, hA, hB, ch);
                dotA = fmaf(4.0f, ch[0], c[0]);
                dotB = fmaf(4.0f, ch[2], c[2]);
            }
            // s·(Σ x·(off + q) − O − z·S) = s·Σ x·(q − z) for each column.
            const float offsetSum = __uint_as_float(sums.x), sum = __uint_as_float(sums.y);
            yA = fmaf(qn_lb_lo(zsA), dotA - fmaf(qn_lb_hi(zsA), sum, offsetSum), yA);
            yB = fmaf(qn_lb_lo(zsB), dotB - fmaf(qn_lb_hi(zsB), sum, offsetSum), yB);
        }
    }
    if (tig == 0)
    {
        if (nA < N) qn_lb_store(out, nA, yA);
        if (nB < N) qn_lb_store(out, nB, yB);
    }
}

// The body for M rows: MR = 1, 2, 4 or 8 (qn_lb_dispatch_bits picks BITS).
struct QnLbGemvRows
{
    template <int BITS, typename OutT>
    QN_DEVICE static void run(OutT* out, const uint4* qweight, const uint32_t* scaleZero, const __half* x, int M,
                              int N, int K, int groupLength)
    {
        if (M == 1)
        {
            if constexpr (BITS == 4)
            {
                if (K < 65536) qn_lb_gemv1_w4(out, qweight, scaleZero, x, N, K, groupLength);
                else qn_lb_gemv<BITS, 1>(out, qweight, scaleZero, x, M, N, K, groupLength);
                return;
            }
            else if (qn_lb_mma_fits(K, groupLength))
            {
                qn_lb_gemv1_mma<BITS>(out, qweight, scaleZero, x, N, K, groupLength);
                return;
            }
            // W2/W3 with groups of 32 or 64 (a 128-k step spans groups): the two-row body, row 1 skipped.
        }
        if (M <= 2) qn_lb_gemv<BITS, 2>(out, qweight, scaleZero, x, M, N, K, groupLength);
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
