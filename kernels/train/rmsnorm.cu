// rmsnorm.cu — RMSNorm forward and backward (DESIGN.md §7.8) for float32: y = γ ⊙ x / r, r = sqrt(mean(x²) + eps).
//
// C# reference: src/QuantNative/Cpu/RmsNorm.cs (RmsNorm.Forward / Backward), through CpuBackend.
// Tests: tests/QuantNative.Tests/Cuda/TrainKernelTests.cs (the CUDA backend on the emulator against the CPU
// backend, awkward sizes, poisoned outputs), Training/BackendBlockTests.cs (the whole block).
//
// qn_rmsnorm_forward_f32(y, inverseRms, x, gamma, rows, dim, eps)
//   y          float32 [rows, dim]  out: γ ⊙ x / r (may alias x)
//   inverseRms float32 [rows]       out (saved): 1/r
//   x          float32 [rows, dim]  in;  gamma float32 [dim] in;  eps: the norm's epsilon (an argument, §9)
// qn_rmsnorm_backward_f32(dx, dy, x, inverseRms, gamma, rows, dim, accumulate)
//   dx         float32 [rows, dim]  out: (γ ⊙ dy)/r − x·mean(x ⊙ γ ⊙ dy)/r³, added to dx when accumulate != 0;
//                                   may alias dy when not accumulating (each element is read before it is written,
//                                   by the thread that writes it, and the row's dot product is complete before)
//   dy [rows, dim], x [rows, dim], inverseRms [rows], gamma [dim]: in
// qn_rmsnorm_gamma_backward_f32(dGamma, dy, x, inverseRms, rows, dim, accumulate)
//   dGamma     float32 [dim]        out: Σ_rows dy ⊙ x / r, added to dGamma when accumulate != 0. Launched before
//                                   the dx kernel (dx may overwrite dy).
//
// Launch configuration (C# checks: src/QuantNative/Cuda/TrainLaunch.cs, CudaBackend.Training.cs):
//   forward, backward: grid = (rows), one block per row; block = (T) with T a multiple of 32 in [32, 1024] (C# 256);
//   static shared memory 32 floats; threads stride over the row. gamma backward: grid = ceil(dim / T), one thread per
//   column looping over the rows in order. rows·dim < 2^31; no alignment assumptions beyond float.
// Cost: each row is read twice (forward: sum of squares, then scale; backward: dot product, then dx) from L1/L2;
//   the gamma kernel reads dy and x once, coalesced across columns.
//
// Numerics: IEEE float32 with __f*_rn (no FMA contraction). The row sums (Σx², Σ x·γ·dy) run in float in the
//   order of kernels/common/qn_reduce.cuh, where the C# reference sums in double: relative differences of a few
//   float ulps (Tolerances.CudaVsCpuOpRel). dγ sums the rows in the reference's order with its operations: given
//   the same 1/r it is bit-exact; it inherits 1/r's difference.
#include "qn_cuda.h"
#include "qn_reduce.cuh"

QN_KERNEL void qn_rmsnorm_forward_f32(float* y, float* __restrict__ inverseRms, const float* x,
                                      const float* __restrict__ gamma, int rows, int dim, float eps)
{
    __shared__ float part[32];
    const int row = static_cast<int>(blockIdx.x);
    if (row >= rows) return;
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const long long base = static_cast<long long>(row) * dim;
    float ss = 0.0f;
    for (int i = tid; i < dim; i += threads) ss = __fadd_rn(ss, __fmul_rn(x[base + i], x[base + i]));
    ss = qn_block_sum(ss, part);
    const float inv = __fdiv_rn(1.0f, sqrtf(__fadd_rn(__fdiv_rn(ss, static_cast<float>(dim)), eps)));
    if (tid == 0) inverseRms[row] = inv;
    for (int i = tid; i < dim; i += threads) y[base + i] = __fmul_rn(__fmul_rn(x[base + i], inv), gamma[i]);
}

QN_KERNEL void qn_rmsnorm_backward_f32(float* dx, const float* dy, const float* __restrict__ x,
                                       const float* __restrict__ inverseRms, const float* __restrict__ gamma,
                                       int rows, int dim, int accumulate)
{
    __shared__ float part[32];
    const int row = static_cast<int>(blockIdx.x);
    if (row >= rows) return;
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const long long base = static_cast<long long>(row) * dim;
    const float inv = inverseRms[row];
    float dot = 0.0f;
    for (int i = tid; i < dim; i += threads)
        dot = __fadd_rn(dot, __fmul_rn(__fmul_rn(x[base + i], gamma[i]), dy[base + i]));
    dot = qn_block_sum(dot, part);
    // x·mean(x⊙γ⊙dy)/r³ = x·c with c = dot/dim·inv³.
    const float c = __fmul_rn(__fmul_rn(__fmul_rn(__fdiv_rn(dot, static_cast<float>(dim)), inv), inv), inv);
    for (int i = tid; i < dim; i += threads)
    {
        const float g = __fsub_rn(__fmul_rn(__fmul_rn(gamma[i], dy[base + i]), inv), __fmul_rn(x[base + i], c));
        dx[base + i] = accumulate ? __fadd_rn(dx[base + i], g) : g;
    }
}

QN_KERNEL void qn_rmsnorm_gamma_backward_f32(float* __restrict__ dGamma, const float* __restrict__ dy,
                                             const float* __restrict__ x, const float* __restrict__ inverseRms,
                                             int rows, int dim, int accumulate)
{
    const int j = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (j >= dim) return;
    float acc = accumulate ? dGamma[j] : 0.0f;
    for (int r = 0; r < rows; ++r)
    {
        const long long i = static_cast<long long>(r) * dim + j;
        acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(dy[i], x[i]), inverseRms[r]));
    }
    dGamma[j] = acc;
}

QN_REGISTER_KERNELS(qn_rmsnorm_forward_f32, qn_rmsnorm_backward_f32, qn_rmsnorm_gamma_backward_f32)
