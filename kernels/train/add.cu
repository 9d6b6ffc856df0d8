// add.cu — two additions into a tensor already there, float32:
//   qn_add_f32: dst += src elementwise, a gradient from a second path added to the one already there (cross-layer
//     learning's look-ahead gradient into the block's dy, DESIGN.md §7.7);
//   qn_add_bias_f32: y[r, c] += bias[c], a linear layer's bias broadcast over the rows after its GEMM (Qwen2's q/k/v
//     projections).
//
// C# reference: src/QuantNative/Backends/CpuBackend.Training.cs (CpuBackend.Add: dst[n] += src[n] in T);
//   src/QuantNative/Cpu/Linear.cs (Linear.AddBias, through CpuBackend.AddBias: one add per element in T).
// Tests: tests/QuantNative.Tests/Cuda/SdeKernelTests.cs (both against the CPU backend, bit for bit; add bias with 1,
//   3 and 17 rows of 1, 17 and 300 columns).
//
// qn_add_f32(dst, src, count)
//   dst float32 [count] in/out: dst + src;  src float32 [count] in.
// qn_add_bias_f32(y, bias, rows, cols)
//   y float32 [rows, cols] row-major in/out: y + bias on every row;  bias float32 [cols] in.
// Launch configuration: any 1-D grid-stride launch (C# min(ceil(n/256), 65535) blocks of 256, n = count or
//   rows·cols); n < 2^31; no shared memory. Cost: memory-bound, two reads and one write per element (the bias row
//   stays in L1/L2).
// Numerics: one __fadd_rn per element, as the reference: bit-exact.
#include "qn_cuda.h"

QN_KERNEL void qn_add_f32(float* __restrict__ dst, const float* __restrict__ src, int count)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
        dst[n] = __fadd_rn(dst[n], src[n]);
}

QN_KERNEL void qn_add_bias_f32(float* __restrict__ y, const float* __restrict__ bias, int rows, int cols)
{
    const int count = rows * cols; // < 2^31, checked by the caller
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
        y[n] = __fadd_rn(y[n], bias[n % cols]);
}

QN_REGISTER_KERNELS(qn_add_f32, qn_add_bias_f32)
