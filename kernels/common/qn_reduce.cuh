// qn_reduce.cuh — the warp and block reductions (sum, max, min) of every kernel family: kernels/train/ (attention,
// rmsnorm, sde), kernels/quant/fakequant_lwc.cu and kernels/gemm/lowbit_gemv.cu include it. Each family is one
// translation unit (DESIGN.md §4, cmake/QnKernels.cmake), so #pragma once keeps one copy per family.
//
// Warp level: qn_warp_sum / qn_warp_max / qn_warp_min — an xor butterfly over the 32 lanes (offsets 16, 8, 4, 2,
//   1); every lane ends with the result. All 32 lanes of the warp must call it (full mask). Float sums add with
//   __fadd_rn (no FMA contraction under nvcc; the emulator compiles with -ffp-contract=off); int sums are exact.
// Block level, two steps so that a kernel can reduce several values across the warps with one barrier:
//   qn_block_publish(v, part)        lane 0 of warp w writes its (already warp-reduced) v to part[w];
//   __syncthreads();
//   qn_block_combine_{sum,max,min}(part) every thread folds part[0], part[1], ... in warp order, starting from the
//                                    identity (0, −∞, +∞), and gets the result.
//   qn_block_sum / qn_block_max (warp reduce, publish, barrier, combine, barrier) do all of it for one value; their
//   trailing barrier lets the caller reuse `part` for its next reduction.
// Assumptions: blockDim = (T, 1, 1) with T a multiple of 32 in [32, 1024]; every thread of the block calls the block
//   functions (they contain __syncthreads()); `part` is a __shared__ array of at least T / 32 elements of the
//   calling kernel.
// Order (fixed, the same on every run and in the emulator): a strided per-thread partial (the caller's), the
//   butterfly within each warp, then the warps' results in warp order. It differs from the C# references'
//   sequential sums (callers state the tolerance); max and min are exact in any order.
#pragma once
#include "qn_cuda.h"

QN_DEVICE float qn_reduce_add(float a, float b) { return __fadd_rn(a, b); }
QN_DEVICE int qn_reduce_add(int a, int b) { return a + b; }

struct QnReduceSum
{
    template <typename T>
    QN_DEVICE T operator()(T a, T b) const { return qn_reduce_add(a, b); }
};

struct QnReduceMax
{
    QN_DEVICE float operator()(float a, float b) const { return fmaxf(a, b); }
};

struct QnReduceMin
{
    QN_DEVICE float operator()(float a, float b) const { return fminf(a, b); }
};

template <typename Op, typename T>
QN_DEVICE T qn_warp_reduce(T v, Op op)
{
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

QN_DEVICE float qn_warp_sum(float v) { return qn_warp_reduce(v, QnReduceSum()); }
QN_DEVICE int qn_warp_sum(int v) { return qn_warp_reduce(v, QnReduceSum()); }
QN_DEVICE float qn_warp_max(float v) { return qn_warp_reduce(v, QnReduceMax()); }
QN_DEVICE float qn_warp_min(float v) { return qn_warp_reduce(v, QnReduceMin()); }

template <typename T>
QN_DEVICE void qn_block_publish(T v, T* part)
{
    const int tid = static_cast<int>(threadIdx.x);
    if ((tid & 31) == 0) part[tid >> 5] = v;
}

template <typename Op, typename T>
QN_DEVICE T qn_block_combine(const T* part, T identity, Op op)
{
    const int warps = static_cast<int>(blockDim.x) >> 5;
    T r = identity;
    for (int w = 0; w < warps; ++w) r = op(r, part[w]);
    return r;
}

QN_DEVICE float qn_block_combine_sum(const float* part) { return qn_block_combine(part, 0.0f, QnReduceSum()); }
QN_DEVICE int qn_block_combine_sum(const int* part) { return qn_block_combine(part, 0, QnReduceSum()); }
QN_DEVICE float qn_block_combine_max(const float* part) { return qn_block_combine(part, -INFINITY, QnReduceMax()); }
QN_DEVICE float qn_block_combine_min(const float* part) { return qn_block_combine(part, INFINITY, QnReduceMin()); }

QN_DEVICE float qn_block_sum(float v, float* part)
{
    qn_block_publish(qn_warp_sum(v), part);
    __syncthreads();
    const float s = qn_block_combine_sum(part);
    __syncthreads(); // part may be reused by the next reduction
    return s;
}

QN_DEVICE float qn_block_max(float v, float* part)
{
    qn_block_publish(qn_warp_max(v), part);
    __syncthreads();
    const float m = qn_block_combine_max(part);
    __syncthreads();
    return m;
}
