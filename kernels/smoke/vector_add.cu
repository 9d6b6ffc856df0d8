// vector_add.cu — the smoke kernel family: proves the build path (nvcc fatbin for sm_80/86/89/90 + compute_90 PTX,
// and the same source in the CPU emulator) end to end. It implements no C# reference; it is its own definition.
//
// qn_vector_add_forward_f32(out, a, b, n): out[i] = a[i] + b[i] for 0 <= i < n.
//   out  float32 [n], written (elements >= n untouched)
//   a, b float32 [n], read
//   n    int, >= 0
// Launch: 1-D, any block size (the tests use 128), grid = ceil(n / blockDim.x); no shared memory; no alignment
// assumptions. Numerics: one IEEE fp32 addition per element (round to nearest even), bit-exact on CPU and GPU.
// Tests: tests/QuantNative.Tests/Interop/EmulatorLaunchTests.cs (VectorAdd_*).
#include "qn_cuda.h"

QN_KERNEL void qn_vector_add_forward_f32(float* __restrict__ out, const float* __restrict__ a,
                                         const float* __restrict__ b, int n)
{
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i < n) out[i] = a[i] + b[i];
}

QN_REGISTER_KERNELS(qn_vector_add_forward_f32)
