// add.cu — dst += src elementwise, float32: a gradient from a second path added to the one already there
//   (cross-layer learning's look-ahead gradient into the block's dy, DESIGN.md §7.7).
//
// C# reference: src/QuantNative/Backends/CpuBackend.Training.cs (CpuBackend.Add: dst[n] += src[n] in T).
// Tests: tests/QuantNative.Tests/Cuda/SdeKernelTests.cs (against the CPU backend, bit for bit).
//
// qn_add_f32(dst, src, count)
//   dst float32 [count] in/out: dst + src;  src float32 [count] in.
// Launch configuration: any 1-D grid-stride launch (C# min(ceil(count/256), 65535) blocks of 256); count < 2^31;
//   no shared memory. Cost: memory-bound, two reads and one write per element.
// Numerics: one __fadd_rn per element, as the reference: bit-exact.
#include "qn_cuda.h"

QN_KERNEL void qn_add_f32(float* __restrict__ dst, const float* __restrict__ src, int count)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
        dst[n] = __fadd_rn(dst[n], src[n]);
}

QN_REGISTER_KERNELS(qn_add_f32)
