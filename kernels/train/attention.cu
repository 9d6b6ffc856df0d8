// attention.cu — causal grouped-query attention forward and backward for training (DESIGN.md §7.8), float32, over a
// sequence at positions 0..T−1: S = Q·Kᵀ·scale, P = softmax(S) over the keys j a query i sees, O = P·V; query head h
// reads key/value head h / (heads/kvHeads). The keys of query i: j ≤ i (window 0, plain causal), or with a sliding
// window W > 0 (Mistral; Transformers' kv_idx > q_idx − sliding_window) i − W < j ≤ i, the last W keys including
// itself. The forward saves the log-sum-exp of each row; the backward recomputes P from it.
//
// The forward's row (scores, softmax, P·V) is kernels/common/qn_attention_row.cuh, shared with the decode path's
// kernels/infer/attention_decode.cu.
// C# reference: src/QuantNative/Cpu/CausalAttention.cs (Forward with firstPosition 0, Backward), through CpuBackend.
// Tests: tests/QuantNative.Tests/Cuda/TrainKernelTests.cs (against the CPU backend: GQA 4/2 heads, head dim 8,
//   T = 1, 5, 17, windows 1, 3 and longer than T, poisoned outputs), Training/BackendBlockTests.cs (the whole block).
//
// Layouts (row-major): q, output, dQ, dOutput [T, heads·headDim]; k, v, dK, dV [T, kvHeads·headDim];
//   logSumExp, delta [heads, T]. window ≥ 0 (0: plain causal). scale = 1/sqrt(headDim) rounded to float (an
//   argument, §9). Below, L = min(T, W) with a window, T without: the most keys one query sees.
//
// qn_attention_forward_f32(output, logSumExp, q, k, v, tokens, heads, kvHeads, headDim, window, scale)
//   output out: O; logSumExp out (saved): max_j S_ij + log Σ_j exp(S_ij − max), j over the query's keys.
// qn_attention_backward_f32(dQ, delta, dOutput, q, k, v, logSumExp, tokens, heads, kvHeads, headDim, window, scale)
//   dQ out: scale·Σ_j dS_ij K_j with dS = P ⊙ (dP − D), dP = dO·Vᵀ; delta out: D_i = Σ_j P_ij dP_ij (scratch for
//   the next kernel, owned by the CUDA backend); j from max(0, i − W + 1) (0 without a window) to i.
// qn_attention_kv_backward_f32(dK, dV, dOutput, q, k, v, logSumExp, delta, tokens, heads, kvHeads, headDim, window,
//                              scale)
//   dK out: scale·Σ_{h in group} Σ_i dS_ij Q_i;  dV out: Σ_{h in group} Σ_i P_ij dO_i (overwritten); i over the
//   queries that see key j: j ≤ i ≤ T − 1, and i ≤ j + W − 1 with a window.
//
// Launch configuration (C# checks: src/QuantNative/Cuda/TrainLaunch.cs, CudaBackend.Training.cs):
//   forward and backward: grid = (T, heads): one block per (query row i, head h); block = (128) — any multiple of 32
//   in [32, 1024] works; dynamic shared memory L floats (forward: the row's scores/probabilities, indexed from the
//   row's earliest key) or 2·L floats (backward: P and dS), at most 48 KiB, so L ≤ 12288 (forward) and L ≤ 6144
//   (backward): a window lets T grow past those; static 32 floats.
//   kv backward: grid = (T, kvHeads): one block per (key row j, kv head); block = (128): 4 warps, warp w takes the
//   queries i = j + w, j + w + 4, ... of the key's range; each lane owns head-dim elements lane, lane + 32, ...;
//   dynamic shared memory 2·4·headDim floats (one dK and one dV accumulator row per warp, summed in warp order at the
//   end).
//   heads a multiple of kvHeads; T·heads·headDim < 2^31; no alignment assumptions beyond float.
// Cost: a straightforward kernel, correctness first. Per (i, h) block the forward reads i+1 key and value rows
//   (K, V re-read by every query row, from L2): T²/2·heads·headDim·2 loads and FLOP-pairs per head, no tiling, no
//   tensor cores; the output loop keeps only headDim of the 128 threads busy. The backward does the same twice
//   (dQ, then dK/dV with the scores recomputed once more). At the 7B shape (32 heads, d = 128) and T = 2048 that is
//   ~34 GFLOP per pass on CUDA cores, several times slower than a FlashAttention-style tiled kernel; fine next to
//   the block's ~1.1 TFLOP of GEMMs per window only on short windows. The next step is a tiled kernel. A sliding
//   window W < T cuts every loop to W keys (or queries) per row: T·W instead of T²/2.
//
// Numerics: float32, expf/logf of the C library on the emulator, CUDA's full-precision expf/logf on a GPU (within
//   2 ulp). Dot products run sequentially over the head dimension (forward, dQ) or lane-strided with an xor
//   butterfly (dK/dV); the C# reference uses BLAS GEMMs: another summation order, so results agree within float
//   rounding (Tolerances.CudaVsCpuOpRel), not bit for bit. Where dQ and dK are exactly 0 (one key per query:
//   T = 1 or window 1, so P ≡ 1) the reference gives 0 and the kv kernel, whose scores and dP are summed in another
//   order than the forward's and D's, leaves rounding noise the size of ε times its terms (dK only; dQ stays 0).
//   The masked keys (j > i, and j ≤ i − W with a window) are never touched: probability 0 without an exp of −inf.
#include "qn_cuda.h"
#include "qn_reduce.cuh"
#include "qn_attention_row.cuh"

QN_KERNEL void qn_attention_forward_f32(float* __restrict__ output, float* __restrict__ logSumExp,
                                        const float* __restrict__ q, const float* __restrict__ k,
                                        const float* __restrict__ v, int tokens, int heads, int kvHeads, int headDim,
                                        int window, float scale)
{
    QN_DYNAMIC_SHARED(float, p); // [L]: scores, then probabilities, of keys j0..i at p[j − j0]
    __shared__ float part[32];
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
    if (i >= tokens || h >= heads) return;
    const int tid = static_cast<int>(threadIdx.x);
    const int kvh = h / (heads / kvHeads);
    const long long qWidth = static_cast<long long>(heads) * headDim, kvWidth = static_cast<long long>(kvHeads) * headDim;
    const float* qi = q + i * qWidth + h * headDim;
    const float* kh = k + kvh * headDim;
    const float* vh = v + kvh * headDim;
    const int j0 = qn_attn_first_key(i, window);
    const auto row = qn_attention_row(output + i * qWidth + h * headDim, qi, kh, vh, kvWidth, headDim, j0, i, scale, p,
                                      part);
    if (tid == 0) logSumExp[static_cast<long long>(h) * tokens + i] = __fadd_rn(row.max, logf(row.sum));
}

QN_KERNEL void qn_attention_backward_f32(float* __restrict__ dQ, float* __restrict__ delta,
                                         const float* __restrict__ dOutput, const float* __restrict__ q,
                                         const float* __restrict__ k, const float* __restrict__ v,
                                         const float* __restrict__ logSumExp, int tokens, int heads, int kvHeads,
                                         int headDim, int window, float scale)
{
    QN_DYNAMIC_SHARED(float, p); // [2·L]: P, then dP → dS, of keys j0..i at [j − j0]
    __shared__ float part[32];
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
    if (i >= tokens || h >= heads) return;
    float* ds = p + (window > 0 && window < tokens ? window : tokens); // L: the launch's 2·L floats
    const int j0 = qn_attn_first_key(i, window);
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const int kvh = h / (heads / kvHeads);
    const long long qWidth = static_cast<long long>(heads) * headDim, kvWidth = static_cast<long long>(kvHeads) * headDim;
    const float* qi = q + i * qWidth + h * headDim;
    const float* doi = dOutput + i * qWidth + h * headDim;
    const float* kh = k + kvh * headDim;
    const float* vh = v + kvh * headDim;
    const long long row = static_cast<long long>(h) * tokens + i;
    const float lse = logSumExp[row];

    float local = 0.0f;
    for (int j = j0 + tid; j <= i; j += threads)
    {
        const float pj = expf(__fsub_rn(__fmul_rn(qn_attn_dot(qi, kh + j * kvWidth, headDim), scale), lse));
        const float dp = qn_attn_dot(doi, vh + j * kvWidth, headDim);
        p[j - j0] = pj;
        ds[j - j0] = dp;
        local = __fadd_rn(local, __fmul_rn(pj, dp));
    }
    const float dsum = qn_block_sum(local, part);
    if (tid == 0) delta[row] = dsum;
    for (int j = tid; j <= i - j0; j += threads) ds[j] = __fmul_rn(p[j], __fsub_rn(ds[j], dsum));
    __syncthreads();
    for (int d = tid; d < headDim; d += threads)
    {
        float acc = 0.0f;
        for (int j = j0; j <= i; ++j) acc = __fadd_rn(acc, __fmul_rn(ds[j - j0], kh[j * kvWidth + d]));
        dQ[i * qWidth + h * headDim + d] = __fmul_rn(acc, scale);
    }
}

QN_KERNEL void qn_attention_kv_backward_f32(float* __restrict__ dK, float* __restrict__ dV,
                                            const float* __restrict__ dOutput, const float* __restrict__ q,
                                            const float* __restrict__ k, const float* __restrict__ v,
                                            const float* __restrict__ logSumExp, const float* __restrict__ delta,
                                            int tokens, int heads, int kvHeads, int headDim, int window,
                                            float scale)
{
    QN_DYNAMIC_SHARED(float, acc); // [warps][2][headDim]: per warp a dK row, then a dV row
    const int j = static_cast<int>(blockIdx.x), kvh = static_cast<int>(blockIdx.y);
    if (j >= tokens || kvh >= kvHeads) return;
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const int warp = tid >> 5, lane = tid & 31, warps = threads >> 5;
    const int group = heads / kvHeads;
    const long long qWidth = static_cast<long long>(heads) * headDim, kvWidth = static_cast<long long>(kvHeads) * headDim;
    const float* kj = k + j * kvWidth + kvh * headDim;
    const float* vj = v + j * kvWidth + kvh * headDim;
    // The queries that see key j: j..T−1, cut to j..j+W−1 by a window (compared as W < T − j: no overflow).
    const int iEnd = window > 0 && window < tokens - j ? j + window : tokens;
    float* ak = acc + 2LL * warp * headDim;
    float* av = ak + headDim;
    for (int d = lane; d < headDim; d += 32)
    {
        ak[d] = 0.0f;
        av[d] = 0.0f;
    }
    for (int g = 0; g < group; ++g)
    {
        const int h = kvh * group + g;
        for (int i = j + warp; i < iEnd; i += warps) // the whole warp takes the same i: the shuffles converge
        {
            const float* qi = q + i * qWidth + h * headDim;
            const float* doi = dOutput + i * qWidth + h * headDim;
            float s = 0.0f, dp = 0.0f;
            for (int d = lane; d < headDim; d += 32)
            {
                s = __fadd_rn(s, __fmul_rn(qi[d], kj[d]));
                dp = __fadd_rn(dp, __fmul_rn(doi[d], vj[d]));
            }
            s = __fmul_rn(qn_warp_sum(s), scale);
            dp = qn_warp_sum(dp);
            const long long row = static_cast<long long>(h) * tokens + i;
            const float pij = expf(__fsub_rn(s, logSumExp[row]));
            const float dsij = __fmul_rn(pij, __fsub_rn(dp, delta[row]));
            for (int d = lane; d < headDim; d += 32)
            {
                av[d] = __fadd_rn(av[d], __fmul_rn(pij, doi[d]));
                ak[d] = __fadd_rn(ak[d], __fmul_rn(dsij, qi[d]));
            }
        }
    }
    __syncthreads();
    for (int d = tid; d < headDim; d += threads)
    {
        float sk = 0.0f, sv = 0.0f;
        for (int w = 0; w < warps; ++w)
        {
            sk = __fadd_rn(sk, acc[2LL * w * headDim + d]);
            sv = __fadd_rn(sv, acc[(2LL * w + 1) * headDim + d]);
        }
        dK[j * kvWidth + kvh * headDim + d] = __fmul_rn(sk, scale);
        dV[j * kvWidth + kvh * headDim + d] = sv;
    }
}

QN_REGISTER_KERNELS(qn_attention_forward_f32, qn_attention_backward_f32, qn_attention_kv_backward_f32)
