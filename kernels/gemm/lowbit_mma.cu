// lowbit_mma.cu — tensor-core low-bit GEMM for batches M > 8: y[M, N] = x[M, K] · Ŵᵀ with the same W2/W3/W4 weights
// and the same repacked layout as lowbit_gemv.cu (one repack serves both kernels), x fp16, mma.sync m16n8k16 with
// fp32 accumulation, the output fp16 (…_f16) or fp32 (…_f32). DESIGN.md §8; the dtype in the name is the output's.
//
// C# reference: src/QuantNative/Inference/LowBit/LowBitLinear.cs (LowBitLinear.ForwardCpu: Ŵ dequantized to
// float32 once, y = x·Ŵᵀ by Gemm). Launch planner: LowBit/LowBitMmaLaunch.cs; LowBitDeviceLinear.Forward picks this
// kernel for M > 8 and lowbit_gemv.cu for M ≤ 8. Tests: tests/QuantNative.Tests/Inference/LowBit/LowBitMmaKernelTests.cs (the
// kernels on the emulator against the reference, M ∈ {9, 16, 17, 33, 64, 65, 128, 129}, W2/W3/W4, groups
// 32/64/128/per-channel, K and N off the tile, poisoned outputs, fp16 and fp32 outputs, the dispatch, split K through
// LowBitDeviceLinear, refused shapes); LowBit/LowBitActOrderTests.cs (act-order weights, x gathered first).
//
// Arguments (the same list, order and layouts as lowbit_gemv.cu, whose header is the authority on the weight layout):
//   out      fp16 or float32 [S, M, N] row-major, S = gridDim.z (1 unless K is split); every element is written once
//            (by the lane holding it in its mma accumulator), nothing outside. With S > 1 slice z holds the partial sum
//            over block z's stages; C# then uses the _f32 kernel and sums the slices with lowbit_splitk.cu.
//   qweight  uint4 [N, P, C]: the GEMV layout made by LowBitRepack (chunks of KC = 32 (W4) / 64 (W2) / 128 (W3) k of
//            one column, P = 3 bit planes for W3). A 64-k stage of one column is exactly: W4 chunks 2s, 2s + 1
//            (2 × 16 bytes); W2 chunk s (16 bytes); W3 the low-bit plane s % 2 of chunk s / 2 (16 bytes: that plane
//            holds k 64(s % 2) .. + 63 of the chunk) and words 2(s % 2), +1 of its high-bit plane (8 bytes) — so this
//            kernel copies whole aligned pieces of the same layout and needs no second repack.
//   scaleZero uint32 [G, N]: fp16 scale (low half), fp16 zero point (high half); one word per (column, 32-k half).
//   x        fp16 [M, K] row-major, 16-byte aligned, K % 8 == 0.
//   M, N, K, groupLength, bits  int: M ≥ 1 (meant for M > 8); N ≥ 1; K ≥ 8, K % 8 == 0; groupLength % 32 == 0 or
//            ≥ K (per-channel); bits ∈ {2, 3, 4} (others: no-op). Natural group order only (k / groupLength), as the
//            GEMV: act-order weights are repacked with K permuted and x is permuted first (lowbit_gather.cu).
//
// Launch configuration (C# checks it: LowBitMmaLaunch.Plan): block = 128 threads (4 warps, 2 × 2 over the tile),
//   block tile BM × 64 outputs with BM = 32 (M ≤ 32), 64 (M ≤ 64), 128 (M > 64) — the kernel derives BM from M by
//   the same rule; grid = (ceil(N / 64), ceil(M / BM), S); dynamic shared memory 2·BM·128 + 13 312 bytes (46 080 at
//   BM = 128: under the 48 KiB that needs no opt-in). Warp (wm, wn) owns rows 16·MT·wm .. (MT = BM / 32 m16 tiles)
//   and columns 32·wn .. (4 n8 tiles): MT × 4 accumulator tiles, 16·MT floats per thread.
//   Split K: block z takes stages [z·T/S, (z+1)·T/S) of the T = ceil(K / 64) (possibly none: its slice is 0);
//   S is chosen by LowBitMmaLaunch.Splits to balance the SMs (4 at M = 128, N = K = 4096; 2 at N = 11008).
//   K loop over 64-k stages, double-buffered: stage s + 1 (x tile, packed weights, scale/zero words) is issued with
//   cp.async (16-byte .cg for x and weight vectors, 8-byte .ca for the W3 high plane, 4-byte .ca for scale/zero;
//   zero-filled past M, N, K and past a column's last chunk) before stage s is dequantized and multiplied, so the
//   copy overlaps the math. Per stage: wait, __syncthreads, issue s + 1, dequantize s (thread t: column t / 2, k
//   32(t % 2) .. + 31, one scale/zero word) into the fp16 weight tile, __syncthreads, 4 k16 steps of
//   2 ldmatrix.x4 (B: 16 columns × 16 k each) + MT × (1 ldmatrix.x4 (A) + 4 mma.m16n8k16). m16 tiles wholly past M
//   are skipped by a warp-uniform branch. Shared rows are 128 bytes, their 16-byte vectors XOR-swizzled by row % 8
//   (no padding, no bank conflicts for ldmatrix or the dequantized stores).
//
// Dequantization (fused, in fp16): two codes are placed in the mantissas of the half2 (1024, 1024) by shifts and
//   LOP3s (0x6400 | c = 1024 + c exactly), then HSUB2 (1024 + z) gives c − z exactly and HMUL2 s the weight, rounded
//   once to fp16 — the tensor cores take fp16 B, so this rounding is the price of the mma path.
//
// Numerics: x is fp16, Ŵ = (q − z)·s rounded to fp16 (≤ 2⁻¹¹ relative; exact in the reference), products exact in
//   the mma, accumulation in float32 per k16 step (the emulator: double, rounded once per mma). Tests:
//   Tolerances.LowBitMmaSumRel (2⁻¹¹ + the GEMV's float32 bound, of Σ|x·ŵ|). fp16 output rounds once to nearest even.
//
// SASS (cuobjdump -sass, sm_80, CUDA 11.8). ptxas for the fatbin: 128 registers on sm_80/86/89/90 (capped by
//   __launch_bounds__(128, 4): uncapped the function holding all three MT bodies took 154–165), no spills, no local
//   memory; 4 blocks of 128 threads per SM by registers, by shared memory 3 at BM = 128 on an A100 (164 KB), 4 on an
//   H100 (228 KB). Main loop, per thread per 64-k stage, each (bits, MT) body compiled alone to count it (MT = 4, i.e.
//   BM = 128; every warp does 4 k16 × 4 m16 × 4 n8 = 64 HMMA.16816.F32 per stage):
//     W4: 436 instructions, 128 registers: 64 HMMA, 24 LDSM.16.M88.4 (8 B + 16 A), 10 LDGSTS (8 × 128-bit x, 1 ×
//         128-bit weights, 1 × 32-bit scale/zero), 2 LDS (packed words, scale/zero) + 4 STS.128 (fp16 weights out),
//         76 LOP3, 25 SHF + ≈ 20 IMAD.SHL (shifts), 17 HADD2 + 16 HMUL2 (the dequantization: 16 half2 per thread),
//         2 BAR.SYNC, the rest addresses, predicates and the loop (73 IMAD, 34 ISETP, 22 SEL, 16 BRA all told);
//     W2: 425 (64 HMMA, 24 LDSM, 10 LDGSTS, 74 LOP3, 27 SHF); W3: 523 (64 HMMA, 24 LDSM, 11 LDGSTS incl. one 64-bit,
//         3 LDS, 112 LOP3, 48 SHF: the high-bit plane costs 2 more LOP3 + 2 SHF per pair).
//   MT = 2 (BM = 64): W4 354 (32 HMMA, 16 LDSM), W2 345, W3 443, 79–95 registers; MT = 1 (BM = 32): W4 301 (16 HMMA,
//   12 LDSM), W2 290, W3 391, 63–64 registers.
//   Per stage the dequantization (≈ 160 slots: 32 weights per thread) and the copies/addresses (≈ 120) are fixed
//   costs of the block tile; the HMMA + LDSM (88 at MT = 4) scale with BM: MT = 4 amortizes them best, ≈ 6.8 issue
//   slots per HMMA (W4), 6.6 (W2), 8.2 (W3); MT = 1 spends ≈ 19 per HMMA, but M ≤ 32 is weight-bandwidth bound anyway.
//
// Bytes moved (DRAM; no timing claims: nothing here ran on a GPU). Weights are read once per block row (once for
//   M ≤ 128): N·K·bits/8 + 4·N·K/g bytes of scale/zero at most (the words of a group repeat per 32-k half and hit in
//   L1/L2); x (M·K·2) is read by every column block, from L2 after the first; y M·N·(2 or 4); with split K the
//   float32 partials S·M·N·4 are written and read once more (L2-resident at these sizes on an H100: 50 MB). At
//   M = 128, 4096 × 4096, W4 g = 128: ≈ 8.4 MB weights + 0.5 MB scale/zero + 1 MB x + 1–2 MB y ≈ 11 MB (+ 2 × 8 MB of
//   partials at S = 4, mostly L2) for 4.3 GFLOP (≈ 390 FLOP/byte of DRAM: compute-bound on an H100, whose balance is
//   ≈ 200–300), against ≈ 36 MB for cuBLAS fp16 (33.5 MB of weights, ≈ 120 FLOP/byte: memory-bound, ≥ 10.7 µs at
//   3.35 TB/s). 11008 × 4096: ≈ 25 MB against ≈ 92 MB (cuBLAS ≥ 27 µs).
//
// Design target (no slower than cuBLAS fp16 at M = 128 on an H100; an estimate from the counts above, NOT a
//   measurement — it needs a GPU to confirm): issue-bound, the kernel needs ≈ 436 issue slots per warp per stage
//   (W4, MT = 4); an H100 SXM scheduler issues one per cycle at ~1.83 GHz, and the HMMA pipe (≈ 4 cycles per
//   m16n8k16 per sub-partition, 256 per stage) is not the limit. Each block puts one warp on each of an SM's 4
//   schedulers, so the busiest scheduler issues Σ (its SM's blocks × their stages) × 436:
//     4096 × 4096: 64 column blocks; unsplit: 64 SMs busy, 68 idle, 64 stages with one warp per scheduler (latency
//       exposed): > 15 µs — slower than cuBLAS. Split 4 ways: 256 blocks, ≤ 2 per SM, 16 stages each: ≈ 2 × 16 × 436
//       ≈ 14 k cycles ≈ 7.6 µs, + the reduction over 8 MB of L2-resident partials (≈ 1–2 µs) ≈ 9–10 µs < 10.7 µs.
//     11008 × 4096: 172 blocks; unsplit 40 SMs run two: ≈ 2 × 64 × 436 ≈ 56 k cycles ≈ 30 µs, on par at best; split
//       2 ways: 344 blocks, ≤ 3 per SM (all resident), 32 stages: ≈ 42 k cycles ≈ 23 µs + ≈ 2 µs of reduction < 27 µs.
//   So the target is met on paper with split K, by a thin margin at 4096 (≈ 10%) that rests on the issue-rate
//   assumption; W3 (523 slots) lands on par. What would widen it (not done): 8 warps per block (two k16 halves per
//   stage, reduced through shared memory) so two warps share each scheduler without split K; dequantizing 4 weights
//   per LOP3 from an interleaved (Marlin-like) layout instead of the GEMV's, which would need a second repack; a
//   64 × 64 warp tile (fewer LDSM per HMMA); a larger BM (256) with the shared-memory opt-in.
// The same accounting in the GEMV budget's units (issue 15; tools/gemv-sass-budget.sh holds the GEMV to it): at
//   BM = 128 a block's 128 threads issue 436 instructions each per stage for 64 k × 64 columns = 4096 weights, i.e.
//   13.6 thread-instructions per weight for all 128 rows (0.11 per multiply-add). An H100 SXM issues ≈ 31·10¹²
//   thread-instructions/s (132 SMs · 4 · 32 lanes · 1.83 GHz), so the kernel's issue time at M = 128 is ≈ 13.6·N·K /
//   31·10¹² ≈ 7.4 µs for 4096 × 4096 and 19.9 µs for 11008 × 4096 (+ the split-K reduction, 1–2 µs). cuBLAS's rate is
//   taken, not measured here, as an fp16 GEMM at M = 128 that is memory-bound on its 2-byte weights at 80% of the
//   3.35 TB/s (the fraction assumed for large-K fp16 GEMMs; it must be measured by `qn bench gemm` on the GPU): 12.5 µs
//   and 33.6 µs. The estimate is then ≈ 1.4–1.6× cuBLAS at W4/W2 (W3: 523/436 = 1.2× more issue, ≈ 1.2–1.4×), above the
//   ≥ 1× goal under two assumptions: one instruction issued per scheduler per cycle (no stalls on LDSM, cp.async waits
//   or barriers) and cuBLAS at 80% of bandwidth; at 100% of bandwidth for cuBLAS (10.7 / 27 µs) the margin at 4096 is
//   the ≈ 10% of the paragraph above.
#include "qn_cuda.h"
#include "lowbit_common.cuh"

namespace {

constexpr int QN_LBM_BN = 64;          // output columns per block
constexpr int QN_LBM_BK = 64;          // k per pipeline stage (one 128-byte shared row per x row / weight column)
constexpr int QN_LBM_THREADS = 128;    // 4 warps, 2 × 2 over the block tile
constexpr int QN_LBM_PACKED_BYTES = 32; // packed weight bytes per column per stage, the W4 maximum (W3 24, W2 16)

// Shared memory, in this order: x tiles [2][BM][64] fp16, the dequantized weight tile [64][64] fp16, packed weight
// tiles [2][64][32 bytes], scale/zero words [2][128]. Rows of 64 fp16 are 128 bytes, XOR-swizzled by 16-byte vector.
constexpr int QN_LBM_B_BYTES = QN_LBM_BN * QN_LBM_BK * 2;
constexpr int QN_LBM_PACKED_STAGE = QN_LBM_BN * QN_LBM_PACKED_BYTES;

// 1024.0 as fp16 in both halves: OR-ing a code c < 1024 into the mantissa gives 1024 + c exactly.
constexpr uint32_t QN_LBM_MAGIC = 0x64006400u;

// Byte offset of 16-byte vector j (0..7) of row r in a region of 128-byte rows: vector j lands in slot j ^ (r % 8),
// so the 8 rows an ldmatrix reads at the same k (and the 8 vectors a row is written with) hit 8 different bank groups.
QN_DEVICE int qn_lbm_swizzle(int r, int j) { return (r << 7) + ((j ^ (r & 7)) << 4); }

QN_DEVICE int qn_lbm_x_bytes(int bm) { return 2 * bm * QN_LBM_BK * 2; }

// Two codes as the fp16 pair (1024 + lo, 1024 + hi): lo is at bit loShift of word, hi at bit hiShift, both `mask` wide.
QN_DEVICE uint32_t qn_lbm_pair(uint32_t word, int loShift, int hiShift, uint32_t mask)
{
    const uint32_t lo = qn_lop3<QN_LB_AND_OR>(word >> loShift, mask, QN_LBM_MAGIC);
    const uint32_t hiAt16 = hiShift >= 16 ? word >> (hiShift - 16) : word << (16 - hiShift);
    return qn_lop3<QN_LB_AND_OR>(hiAt16, mask << 16, lo);
}

// Moves bit `from` of word to bit `to` (constants after unrolling: one shift).
QN_DEVICE uint32_t qn_lbm_move(uint32_t word, int from, int to) { return from >= to ? word >> (from - to) : word << (to - from); }

QN_DEVICE __half2 qn_lbm_as_half2(uint32_t u) { return *reinterpret_cast<const __half2*>(&u); }
QN_DEVICE uint32_t qn_lbm_as_u32(__half2 h) { return *reinterpret_cast<const uint32_t*>(&h); }

// The cp.async copies one thread issues per stage, with every address and bound worked out once before the K loop
// (per stage only pointer increments and compares remain). Stage s (k = 64s ..) goes to buffer s % 2:
//   x tile: BM × 8 vectors of 16 bytes; thread t copies vectors (row t/8 + 16i, vector t%8), i < BM/16 — rows ≥ M and
//     k ≥ K zero-filled (K % 8 == 0: a vector is wholly in or out); rows r and r + 16i share r % 8, so one swizzled
//     offset serves all i.
//   packed weights of the block's 64 columns: W4 thread t copies chunk 2s + t%2 of column t/2 (16 bytes); W2 threads
//     0..63 chunk s of column t; W3 threads 0..63 the low-bit plane s%2 of chunk s/2 of column t (16 bytes), threads
//     64..127 words 2(s%2), +1 of its high-bit plane (8 bytes). Columns ≥ N and chunks past a column's end zero-filled.
//   the scale/zero word thread t will use (column t/2, k 64s + 32(t%2) ..), zero-filled for columns ≥ N.
template <int BITS, int BM>
struct QnLbmCopier
{
    static constexpr int KC = BITS == 4 ? 32 : BITS == 2 ? 64 : 128;
    static constexpr int P = BITS == 3 ? 3 : 1;
    static constexpr int XV = BM / 16; // x vectors per thread per stage

    const __half* xSrc;      // row t/8 (+ m0), vector t%8 of stage 0
    long long xRowStep;      // 16 rows
    uint32_t xRowsIn;        // bit i: row t/8 + 16i < M
    int xDst;                // swizzled offset in an x buffer of vector 0
    int kVector;             // k of this thread's x vector in stage 0
    const uint32_t* wSrc;    // this thread's weight piece of stage 0 (words), or nullptr: nothing to copy
    int wChunk;              // chunk index of that piece (W4), for the past-the-end check
    int wDst;                // offset in a packed buffer
    const uint32_t* szSrc;   // scaleZero + n (column in range) or nullptr
    int szK;                 // k of the thread's 32-k half in the current stage
    int group, groupEnd;     // its group and the first k of the next group
    int lastGroup;           // G − 1 (k ≥ K reads this group's word: x is 0 there)

    // Set up for stage `first` (the block's first stage: > 0 under split K).
    QN_DEVICE QnLbmCopier(const uint4* qweight, const uint32_t* scaleZero, const __half* x, int M, int N, int K,
                          int groupLength, int m0, int n0, int first)
    {
        const int tid = static_cast<int>(threadIdx.x);
        const int r = tid >> 3, j = tid & 7;
        kVector = 8 * j + first * QN_LBM_BK;
        xSrc = x + static_cast<long long>(m0 + r) * K + kVector;
        xRowStep = 16LL * K;
        xRowsIn = 0;
QN_LB_UNROLL
        for (int i = 0; i < XV; ++i)
            if (m0 + r + 16 * i < M) xRowsIn |= 1u << i;
        xDst = qn_lbm_swizzle(r, j);

        const int chunks = (K + KC - 1) / KC;
        const uint32_t* q = reinterpret_cast<const uint32_t*>(qweight);
        wSrc = nullptr;
        wChunk = 0;
        if constexpr (BITS == 4)
        {
            const int n = n0 + (tid >> 1);
            wChunk = 2 * first + (tid & 1);
            if (n < N) wSrc = q + 4 * (static_cast<long long>(n) * chunks + wChunk);
            wDst = (tid >> 1) * QN_LBM_PACKED_BYTES + 16 * (tid & 1);
        }
        else if constexpr (BITS == 2)
        {
            const int n = n0 + tid;
            if (tid < QN_LBM_BN && n < N) wSrc = q + 4 * (static_cast<long long>(n) * chunks + first);
            wDst = tid * QN_LBM_PACKED_BYTES;
        }
        else
        {
            const int col = tid & (QN_LBM_BN - 1), n = n0 + col;
            const int plane = tid < QN_LBM_BN ? 0 : 2;
            if (n < N) wSrc = q + 4 * ((static_cast<long long>(n) * P + plane) * chunks + first / 2);
            wDst = col * QN_LBM_PACKED_BYTES + (tid < QN_LBM_BN ? 0 : 16);
        }

        const int n = n0 + (tid >> 1);
        szSrc = n < N ? scaleZero + n : nullptr;
        szK = 32 * (tid & 1) + first * QN_LBM_BK;
        group = szK / groupLength;
        groupEnd = (group + 1) * groupLength;
        lastGroup = (K + groupLength - 1) / groupLength - 1;
    }

    // Issues stage `tile` into buffer `stage`, then moves on to the next stage.
    QN_DEVICE void issue(unsigned char* smem, int stage, int tile, const __half* x, const uint4* qweight,
                         const uint32_t* scaleZero, int N, int K, int groupLength)
    {
        unsigned char* xs = smem + stage * (BM * QN_LBM_BK * 2) + xDst;
        const bool kIn = kVector < K;
QN_LB_UNROLL
        for (int i = 0; i < XV; ++i)
        {
            const bool in = kIn && ((xRowsIn >> i) & 1u);
            qn_cp_async_cg16_zfill(xs + i * 16 * 128, in ? xSrc + i * xRowStep : x, in ? 16 : 0);
        }
        xSrc += QN_LBM_BK;
        kVector += QN_LBM_BK;

        unsigned char* ps = smem + qn_lbm_x_bytes(BM) + QN_LBM_B_BYTES + stage * QN_LBM_PACKED_STAGE + wDst;
        const uint32_t* q = reinterpret_cast<const uint32_t*>(qweight);
        if constexpr (BITS == 4)
        {
            const bool in = wSrc != nullptr && wChunk < (K + KC - 1) / KC;
            qn_cp_async_cg16_zfill(ps, in ? wSrc : q, in ? 16 : 0);
            if (wSrc != nullptr) wSrc += 8; // two chunks
            wChunk += 2;
        }
        else if constexpr (BITS == 2)
        {
            if (threadIdx.x < QN_LBM_BN)
            {
                qn_cp_async_cg16_zfill(ps, wSrc != nullptr ? wSrc : q, wSrc != nullptr ? 16 : 0);
                if (wSrc != nullptr) wSrc += 4;
            }
        }
        else
        {
            // Low plane: plane tile % 2 of chunk tile / 2 (planes are `chunks` vectors apart); high plane: words
            // 2(tile % 2), +1 of the chunk's vector.
            const int chunks = (K + KC - 1) / KC;
            const bool in = wSrc != nullptr;
            if (threadIdx.x < QN_LBM_BN)
            {
                const uint32_t* src = in ? wSrc + 4LL * (tile & 1) * chunks : q;
                qn_cp_async_cg16_zfill(ps, src, in ? 16 : 0);
            }
            else
                qn_cp_async_ca_zfill<8>(ps, in ? wSrc + 2 * (tile & 1) : q, in ? 8 : 0);
            if (in && (tile & 1)) wSrc += 4; // the next chunk after both halves
        }

        uint32_t* sz = reinterpret_cast<uint32_t*>(smem + qn_lbm_x_bytes(BM) + QN_LBM_B_BYTES + 2 * QN_LBM_PACKED_STAGE) +
                       stage * QN_LBM_THREADS + threadIdx.x;
        const int g = min(group, lastGroup);
        qn_cp_async_ca_zfill<4>(sz, szSrc != nullptr ? szSrc + static_cast<long long>(g) * N : scaleZero,
                                szSrc != nullptr ? 4 : 0);
        // Next stage: k advances by 64 ≥ 2 groups' worth only when groupLength = 32.
        szK += QN_LBM_BK;
        while (szK >= groupEnd)
        {
            ++group;
            groupEnd += groupLength;
        }
    }
};

// Dequantizes this thread's 32 weights of the stage (column tid/2, k = 32(tid%2) ..) from the packed tile into the
// fp16 weight tile: (1024 + c) − (1024 + z) = c − z exactly, times s rounded once to fp16.
template <int BITS, int BM>
QN_DEVICE void qn_lbm_dequant(unsigned char* smem, int stage)
{
    const int tid = static_cast<int>(threadIdx.x);
    const int col = tid >> 1, h = tid & 1;
    const unsigned char* ps = smem + qn_lbm_x_bytes(BM) + QN_LBM_B_BYTES + stage * QN_LBM_PACKED_STAGE +
                              col * QN_LBM_PACKED_BYTES;
    const uint32_t* words = reinterpret_cast<const uint32_t*>(ps);
    const uint32_t sz = reinterpret_cast<const uint32_t*>(smem + qn_lbm_x_bytes(BM) + QN_LBM_B_BYTES +
                                                          2 * QN_LBM_PACKED_STAGE)[stage * QN_LBM_THREADS + tid];
    const __half scale = qn_lb_half_lo(sz);
    const __half zero = qn_lb_half_hi(sz);
    const __half2 s2 = __half2half2(scale);
    const __half2 magicZero = __half2half2(__hadd(__ushort_as_half(0x6400), zero)); // 1024 + z, exact

    uint32_t w[BITS == 3 ? 3 : BITS == 4 ? 4 : 2];
    if constexpr (BITS == 4)
    {
QN_LB_UNROLL
        for (int i = 0; i < 4; ++i) w[i] = words[4 * h + i];
    }
    else if constexpr (BITS == 2)
    {
        w[0] = words[2 * h];
        w[1] = words[2 * h + 1];
    }
    else
    {
        w[0] = words[2 * h];
        w[1] = words[2 * h + 1];
        w[2] = words[4 + h];
    }

    unsigned char* bs = smem + qn_lbm_x_bytes(BM);
QN_LB_UNROLL
    for (int q = 0; q < 4; ++q) // 16-byte vector q: local k = 8q .. 8q + 7 of the thread's 32
    {
        uint32_t out[4];
QN_LB_UNROLL
        for (int p = 0; p < 4; ++p)
        {
            const int i = 8 * q + 2 * p; // the pair (i, i + 1)
            uint32_t bits;
            if constexpr (BITS == 4) bits = qn_lbm_pair(w[i >> 3], 4 * (i & 7), 4 * ((i + 1) & 7), 0xfu);
            else if constexpr (BITS == 2) bits = qn_lbm_pair(w[i >> 4], 2 * (i & 15), 2 * ((i + 1) & 15), 0x3u);
            else
            {
                const uint32_t low = qn_lbm_pair(w[i >> 4], 2 * (i & 15), 2 * ((i + 1) & 15), 0x3u);
                const uint32_t withLo = qn_lop3<QN_LB_AND_OR>(qn_lbm_move(w[2], i, 2), 0x4u, low);
                bits = qn_lop3<QN_LB_AND_OR>(qn_lbm_move(w[2], i + 1, 18), 0x40000u, withLo);
            }
            out[p] = qn_lbm_as_u32(__hmul2(__hsub2(qn_lbm_as_half2(bits), magicZero), s2));
        }
        *reinterpret_cast<uint4*>(bs + qn_lbm_swizzle(col, 4 * h + q)) = make_uint4(out[0], out[1], out[2], out[3]);
    }
}

// One block: rows m0 .. m0 + BM − 1 (BM = 32·MT) and columns n0 .. n0 + 63. Warp (wm, wn) = (warp / 2, warp % 2)
// owns rows 16·MT·wm .. and columns 32·wn .. of the tile: MT × 4 mma tiles of 16 × 8.
template <int BITS, int MT, typename OutT>
QN_DEVICE void qn_lbm_gemm(OutT* __restrict__ out, const uint4* __restrict__ qweight,
                           const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int M, int N, int K,
                           int groupLength)
{
    constexpr int BM = 32 * MT;
    QN_DYNAMIC_SHARED(unsigned char, smem);
    const int m0 = static_cast<int>(blockIdx.y) * BM, n0 = static_cast<int>(blockIdx.x) * QN_LBM_BN;
    const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(qn_lane_id());
    const int wm = warp >> 1, wn = warp & 1;
    // Split K (grid.z = S > 1): block z takes stages [z·T/S, (z+1)·T/S) and writes its partial sums to out + z·M·N.
    const int tiles = (K + QN_LBM_BK - 1) / QN_LBM_BK;
    const int splits = static_cast<int>(gridDim.z), z = static_cast<int>(blockIdx.z);
    const int first = static_cast<int>(static_cast<long long>(tiles) * z / splits);
    const int last = static_cast<int>(static_cast<long long>(tiles) * (z + 1) / splits);
    out += static_cast<long long>(z) * M * N;

    float acc[MT][4][4];
QN_LB_UNROLL
    for (int a = 0; a < MT; ++a)
QN_LB_UNROLL
        for (int b = 0; b < 4; ++b)
QN_LB_UNROLL
            for (int c = 0; c < 4; ++c) acc[a][b][c] = 0.0f;

    // m tiles wholly past M are skipped (a warp-uniform branch): at M = 17 three of the four warps' second halves.
    const int rowBase = 16 * MT * wm;
    int liveTiles = (M - m0 - rowBase + 15) / 16;
    liveTiles = liveTiles < 0 ? 0 : liveTiles > MT ? MT : liveTiles;

    QnLbmCopier<BITS, BM> copier(qweight, scaleZero, x, M, N, K, groupLength, m0, n0, first);
    if (first < last) copier.issue(smem, 0, first, x, qweight, scaleZero, N, K, groupLength);
    qn_cp_async_commit();
    for (int t = first; t < last; ++t)
    {
        const int stage = (t - first) & 1;
        qn_cp_async_wait<0>();
        __syncthreads(); // stage t is in shared memory for every thread; every warp is done with stage t − 1
        if (t + 1 < last)
            copier.issue(smem, stage ^ 1, t + 1, x, qweight, scaleZero, N, K, groupLength);
        qn_cp_async_commit();
        qn_lbm_dequant<BITS, BM>(smem, stage);
        __syncthreads(); // the fp16 weight tile is complete

        const unsigned char* xs = smem + stage * (BM * QN_LBM_BK * 2);
        const unsigned char* bs = smem + qn_lbm_x_bytes(BM);
        const int i8 = lane >> 3, r8 = lane & 7; // ldmatrix: lane gives row r8 of matrix i8
QN_LB_UNROLL
        for (int kk = 0; kk < QN_LBM_BK / 16; ++kk)
        {
            // B fragments of the warp's 4 n8 tiles: matrices (n 0–7, k 0–7), (n 0–7, k 8–15), (n 8–15, k 0–7), ...
            uint32_t b[4][2];
QN_LB_UNROLL
            for (int nb = 0; nb < 2; ++nb)
            {
                uint32_t r[4];
                const int n = 32 * wn + 16 * nb + 8 * (i8 >> 1) + r8;
                qn_ldmatrix_x4(r, bs + qn_lbm_swizzle(n, 2 * kk + (i8 & 1)));
                b[2 * nb][0] = r[0];
                b[2 * nb][1] = r[1];
                b[2 * nb + 1][0] = r[2];
                b[2 * nb + 1][1] = r[3];
            }
QN_LB_UNROLL
            for (int mt = 0; mt < MT; ++mt)
            {
                if (mt >= liveTiles) break;
                // A fragment: matrices (m 0–7, k 0–7), (m 8–15, k 0–7), (m 0–7, k 8–15), (m 8–15, k 8–15).
                uint32_t a[4];
                const int r = rowBase + 16 * mt + 8 * (i8 & 1) + r8;
                qn_ldmatrix_x4(a, xs + qn_lbm_swizzle(r, 2 * kk + (i8 >> 1)));
QN_LB_UNROLL
                for (int nt = 0; nt < 4; ++nt) qn_mma_m16n8k16_f16(acc[mt][nt], a, b[nt], acc[mt][nt]);
            }
        }
    }

    const int g = lane >> 2, t4 = lane & 3;
QN_LB_UNROLL
    for (int mt = 0; mt < MT; ++mt)
QN_LB_UNROLL
        for (int nt = 0; nt < 4; ++nt)
QN_LB_UNROLL
            for (int c = 0; c < 4; ++c)
            {
                const int m = m0 + rowBase + 16 * mt + g + 8 * (c >> 1);
                const int n = n0 + 32 * wn + 8 * nt + 2 * t4 + (c & 1);
                if (m < M && n < N) qn_lb_store(out, static_cast<long long>(m) * N + n, acc[mt][nt][c]);
            }
}

// The body for BM = 32, 64 or 128 rows per block (MT = 1, 2, 4; qn_lb_dispatch_bits picks BITS).
struct QnLbmRows
{
    template <int BITS, typename OutT>
    QN_DEVICE static void run(OutT* out, const uint4* qweight, const uint32_t* scaleZero, const __half* x, int M,
                              int N, int K, int groupLength)
    {
        if (M <= 32) qn_lbm_gemm<BITS, 1>(out, qweight, scaleZero, x, M, N, K, groupLength);
        else if (M <= 64) qn_lbm_gemm<BITS, 2>(out, qweight, scaleZero, x, M, N, K, groupLength);
        else qn_lbm_gemm<BITS, 4>(out, qweight, scaleZero, x, M, N, K, groupLength);
    }
};

} // namespace

QN_KERNEL void __launch_bounds__(QN_LBM_THREADS, 4)
    qn_lowbit_mma_forward_f16(__half* __restrict__ out, const uint4* __restrict__ qweight,
                              const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int M, int N, int K,
                              int groupLength, int bits)
{
    qn_lb_dispatch_bits<QnLbmRows>(bits, out, qweight, scaleZero, x, M, N, K, groupLength);
}

QN_KERNEL void __launch_bounds__(QN_LBM_THREADS, 4)
    qn_lowbit_mma_forward_f32(float* __restrict__ out, const uint4* __restrict__ qweight,
                              const uint32_t* __restrict__ scaleZero, const __half* __restrict__ x, int M, int N, int K,
                              int groupLength, int bits)
{
    qn_lb_dispatch_bits<QnLbmRows>(bits, out, qweight, scaleZero, x, M, N, K, groupLength);
}

QN_REGISTER_KERNELS(qn_lowbit_mma_forward_f16, qn_lowbit_mma_forward_f32)
