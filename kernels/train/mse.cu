// mse.cu — mean squared error loss and gradient (DESIGN.md §7.4), float32 tensors, loss summed in double.
//
// C# reference: src/QuantNative/Cpu/MseLoss.cs (MseLoss.Forward / Backward), through CpuBackend.
// Tests: tests/QuantNative.Tests/Cuda/TrainKernelTests.cs (against the CPU backend, poisoned outputs).
//
// qn_mse_forward_f32(partials, y, target, count)
//   partials float64 [gridDim.x] out: block b's Σ (y − t)² over its grid-stride share, each term (double)y −
//            (double)t squared in double; the host adds the partials in block order and divides by count.
//   y, target float32 [count] in.
// qn_mse_backward_f32(dy, y, target, count, factor, accumulate)
//   dy float32 [count] out: factor·(y − t), added to dy when accumulate != 0; factor = 2·dLoss/count rounded to
//   float by the caller (as the reference does).
// Launch configuration: forward: grid = (B), B ≤ 1024 (C# min(ceil(count/256), 1024)); block = (256) exactly (a
//   power of two: the tree reduction halves it); static shared 256 doubles. backward: any 1-D grid-stride launch.
//   count < 2^31. Cost: memory-bound, one read of y and t (forward), plus a write of dy (backward).
// Numerics: the loss is summed in double like the reference, in another order (per-thread strided sums, a tree per
//   block, blocks in order on the host): equal within double rounding. The gradient repeats the reference's float
//   operations (__f*_rn): bit-exact.
#include "qn_cuda.h"

QN_KERNEL void qn_mse_forward_f32(double* __restrict__ partials, const float* __restrict__ y,
                                  const float* __restrict__ target, int count)
{
    __shared__ double part[256];
    const int tid = static_cast<int>(threadIdx.x);
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    double sum = 0.0;
    for (int n = static_cast<int>(blockIdx.x * blockDim.x) + tid; n < count; n += stride)
    {
        const double e = static_cast<double>(y[n]) - static_cast<double>(target[n]);
        sum = __dadd_rn(sum, __dmul_rn(e, e));
    }
    part[tid] = sum;
    __syncthreads();
    for (int s = static_cast<int>(blockDim.x) / 2; s > 0; s >>= 1)
    {
        if (tid < s) part[tid] = __dadd_rn(part[tid], part[tid + s]);
        __syncthreads();
    }
    if (tid == 0) partials[blockIdx.x] = part[0];
}

QN_KERNEL void qn_mse_backward_f32(float* __restrict__ dy, const float* __restrict__ y,
                                   const float* __restrict__ target, int count, float factor, int accumulate)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
    {
        const float g = __fmul_rn(factor, __fsub_rn(y[n], target[n]));
        dy[n] = accumulate ? __fadd_rn(dy[n], g) : g;
    }
}

QN_REGISTER_KERNELS(qn_mse_forward_f32, qn_mse_backward_f32)
