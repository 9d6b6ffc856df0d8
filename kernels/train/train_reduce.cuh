// train_reduce.cuh — block-wide reductions shared by the kernels of kernels/train/ (included by them; the family is
// one translation unit, so #pragma once keeps one copy).
//
// Assumptions: blockDim.x is a multiple of 32 in [32, 1024] and every thread of the block calls the reduction (it
// contains __syncthreads()); `part` is a __shared__ float[32] of the calling kernel. Every thread gets the result.
// Order: a strided per-thread partial (the caller's), an xor butterfly within each warp, then the warps' results in
// warp order — the same order on every run, a different one than the C# references' sequential sums.
#pragma once
#include "qn_cuda.h"

QN_DEVICE float qn_train_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

QN_DEVICE float qn_train_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

QN_DEVICE float qn_train_block_sum(float v, float* part)
{
    v = qn_train_warp_sum(v);
    const int tid = static_cast<int>(threadIdx.x), warps = static_cast<int>(blockDim.x) >> 5;
    if ((tid & 31) == 0) part[tid >> 5] = v;
    __syncthreads();
    float s = 0.0f;
    for (int w = 0; w < warps; ++w) s = __fadd_rn(s, part[w]);
    __syncthreads(); // part may be reused by the next reduction
    return s;
}

QN_DEVICE float qn_train_block_max(float v, float* part)
{
    v = qn_train_warp_max(v);
    const int tid = static_cast<int>(threadIdx.x), warps = static_cast<int>(blockDim.x) >> 5;
    if ((tid & 31) == 0) part[tid >> 5] = v;
    __syncthreads();
    float m = -INFINITY;
    for (int w = 0; w < warps; ++w) m = fmaxf(m, part[w]);
    __syncthreads();
    return m;
}
