// attention.cu — causal grouped-query attention forward and backward for training (DESIGN.md §7.8), float32, over a
// window at positions 0..T−1: S = Q·Kᵀ·scale, P = softmax(S) over keys j ≤ i, O = P·V; query head h reads key/value
// head h / (heads/kvHeads). The forward saves the log-sum-exp of each row; the backward recomputes P from it.
//
// C# reference: src/QuantNative/Cpu/CausalAttention.cs (Forward with firstPosition 0, Backward), through CpuBackend.
// Tests: tests/QuantNative.Tests/Cuda/TrainKernelTests.cs (against the CPU backend: GQA 4/2 heads, head dim 8,
//   T = 1, 5, 17, poisoned outputs), Training/BackendBlockTests.cs (the whole block).
//
// Layouts (row-major): q, output, dQ, dOutput [T, heads·headDim]; k, v, dK, dV [T, kvHeads·headDim];
//   logSumExp, delta [heads, T]. scale = 1/sqrt(headDim) rounded to float (an argument, §9).
//
// qn_attention_forward_f32(output, logSumExp, q, k, v, tokens, heads, kvHeads, headDim, scale)
//   output out: O; logSumExp out (saved): max_j S_ij + log Σ_j exp(S_ij − max).
// qn_attention_backward_f32(dQ, delta, dOutput, q, k, v, logSumExp, tokens, heads, kvHeads, headDim, scale)
//   dQ out: scale·Σ_j dS_ij K_j with dS = P ⊙ (dP − D), dP = dO·Vᵀ; delta out: D_i = Σ_j P_ij dP_ij (scratch for
//   the next kernel, owned by the CUDA backend).
// qn_attention_kv_backward_f32(dK, dV, dOutput, q, k, v, logSumExp, delta, tokens, heads, kvHeads, headDim, scale)
//   dK out: scale·Σ_{h in group} Σ_{i ≥ j} dS_ij Q_i;  dV out: Σ_{h in group} Σ_{i ≥ j} P_ij dO_i (overwritten).
//
// Launch configuration (C# checks: src/QuantNative/Cuda/TrainLaunch.cs, CudaBackend.Training.cs):
//   forward and backward: grid = (T, heads): one block per (query row i, head h); block = (128) — any multiple of 32
//   in [32, 1024] works; dynamic shared memory T floats (forward: the row's scores/probabilities) or 2·T floats
//   (backward: P and dS), at most 48 KiB, so T ≤ 12288 (forward) and T ≤ 6144 (backward); static 32 floats.
//   kv backward: grid = (T, kvHeads): one block per (key row j, kv head); block = (128): 4 warps, warp w takes the
//   queries i = j + w, j + w + 4, ...; each lane owns head-dim elements lane, lane + 32, ...; dynamic shared memory
//   2·4·headDim floats (one dK and one dV accumulator row per warp, summed in warp order at the end).
//   heads a multiple of kvHeads; T·heads·headDim < 2^31; no alignment assumptions beyond float.
// Cost: a straightforward kernel, correctness first. Per (i, h) block the forward reads i+1 key and value rows
//   (K, V re-read by every query row, from L2): T²/2·heads·headDim·2 loads and FLOP-pairs per head, no tiling, no
//   tensor cores; the output loop keeps only headDim of the 128 threads busy. The backward does the same twice
//   (dQ, then dK/dV with the scores recomputed once more). At the 7B shape (32 heads, d = 128) and T = 2048 that is
//   ~34 GFLOP per pass on CUDA cores, several times slower than a FlashAttention-style tiled kernel; fine next to
//   the block's ~1.1 TFLOP of GEMMs per window only on short windows. The next step is a tiled kernel.
//
// Numerics: float32, expf/logf of the C library on the emulator, CUDA's full-precision expf/logf on a GPU (within
//   2 ulp). Dot products run sequentially over the head dimension (forward, dQ) or lane-strided with an xor
//   butterfly (dK/dV); the C# reference uses BLAS GEMMs: another summation order, so results agree within float
//   rounding (Tolerances.CudaVsCpuOpRel), not bit for bit. The masked keys j > i are never touched.
#include "qn_cuda.h"
#include "qn_reduce.cuh"

namespace {

QN_DEVICE float qn_attn_dot(const float* a, const float* b, int n)
{
    float s = 0.0f;
    for (int d = 0; d < n; ++d) s = __fadd_rn(s, __fmul_rn(a[d], b[d]));
    return s;
}

} // namespace

QN_KERNEL void qn_attention_forward_f32(float* __restrict__ output, float* __restrict__ logSumExp,
                                        const float* __restrict__ q, const float* __restrict__ k,
                                        const float* __restrict__ v, int tokens, int heads, int kvHeads, int headDim,
                                        float scale)
{
    QN_DYNAMIC_SHARED(float, p); // [tokens]: scores, then probabilities
    __shared__ float part[32];
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
    if (i >= tokens || h >= heads) return;
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const int kvh = h / (heads / kvHeads);
    const long long qWidth = static_cast<long long>(heads) * headDim, kvWidth = static_cast<long long>(kvHeads) * headDim;
    const float* qi = q + i * qWidth + h * headDim;
    const float* kh = k + kvh * headDim;
    const float* vh = v + kvh * headDim;

    float localMax = -INFINITY;
    for (int j = tid; j <= i; j += threads)
    {
        const float s = __fmul_rn(qn_attn_dot(qi, kh + j * kvWidth, headDim), scale);
        p[j] = s;
        localMax = fmaxf(localMax, s);
    }
    const float maxS = qn_block_max(localMax, part);
    float localSum = 0.0f;
    for (int j = tid; j <= i; j += threads)
    {
        const float e = expf(__fsub_rn(p[j], maxS));
        p[j] = e;
        localSum = __fadd_rn(localSum, e);
    }
    const float sum = qn_block_sum(localSum, part); // its barriers also publish p
    const float inv = __fdiv_rn(1.0f, sum);
    if (tid == 0) logSumExp[static_cast<long long>(h) * tokens + i] = __fadd_rn(maxS, logf(sum));
    for (int d = tid; d < headDim; d += threads)
    {
        float acc = 0.0f;
        for (int j = 0; j <= i; ++j) acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(p[j], inv), vh[j * kvWidth + d]));
        output[i * qWidth + h * headDim + d] = acc;
    }
}

QN_KERNEL void qn_attention_backward_f32(float* __restrict__ dQ, float* __restrict__ delta,
                                         const float* __restrict__ dOutput, const float* __restrict__ q,
                                         const float* __restrict__ k, const float* __restrict__ v,
                                         const float* __restrict__ logSumExp, int tokens, int heads, int kvHeads,
                                         int headDim, float scale)
{
    QN_DYNAMIC_SHARED(float, p); // [2·tokens]: P, then dP → dS
    __shared__ float part[32];
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
    if (i >= tokens || h >= heads) return;
    float* ds = p + tokens;
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
    for (int j = tid; j <= i; j += threads)
    {
        const float pj = expf(__fsub_rn(__fmul_rn(qn_attn_dot(qi, kh + j * kvWidth, headDim), scale), lse));
        const float dp = qn_attn_dot(doi, vh + j * kvWidth, headDim);
        p[j] = pj;
        ds[j] = dp;
        local = __fadd_rn(local, __fmul_rn(pj, dp));
    }
    const float dsum = qn_block_sum(local, part);
    if (tid == 0) delta[row] = dsum;
    for (int j = tid; j <= i; j += threads) ds[j] = __fmul_rn(p[j], __fsub_rn(ds[j], dsum));
    __syncthreads();
    for (int d = tid; d < headDim; d += threads)
    {
        float acc = 0.0f;
        for (int j = 0; j <= i; ++j) acc = __fadd_rn(acc, __fmul_rn(ds[j], kh[j * kvWidth + d]));
        dQ[i * qWidth + h * headDim + d] = __fmul_rn(acc, scale);
    }
}

QN_KERNEL void qn_attention_kv_backward_f32(float* __restrict__ dK, float* __restrict__ dV,
                                            const float* __restrict__ dOutput, const float* __restrict__ q,
                                            const float* __restrict__ k, const float* __restrict__ v,
                                            const float* __restrict__ logSumExp, const float* __restrict__ delta,
                                            int tokens, int heads, int kvHeads, int headDim, float scale)
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
        for (int i = j + warp; i < tokens; i += warps) // the whole warp takes the same i: the shuffles converge
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
