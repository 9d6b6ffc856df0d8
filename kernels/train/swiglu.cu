// swiglu.cu — SwiGLU forward and backward (DESIGN.md §7.8), float32, elementwise: h = silu(a) ⊙ b, silu(a) = a·σ(a).
//
// C# reference: src/QuantNative/Cpu/SwiGlu.cs (SwiGlu.Forward / Backward), through CpuBackend.
// Tests: tests/QuantNative.Tests/Cuda/TrainKernelTests.cs (against the CPU backend, poisoned outputs),
//   Training/BackendBlockTests.cs (the whole block).
//
// qn_swiglu_forward_f32(h, a, b, count)
//   h float32 [count] out: silu(a)·b;  a, b float32 [count] in (h may alias a).
// qn_swiglu_backward_f32(da, db, dh, a, b, count)
//   da float32 [count] out: dh·b·σ(a)·(1 + a·(1 − σ(a)));  db float32 [count] out: dh·silu(a) (as dh·a·σ(a));
//   dh [count] in (da may alias dh: each element is read before it is written, by the same thread); a, b in.
// Launch configuration: 1-D grid-stride loop; any grid and block (C# min(ceil(count/256), 65535) blocks of 256);
//   count < 2^31; no shared memory. Cost: memory-bound, one read of each input and one write of each output.
// Numerics: σ(a) = 1/(1 + expf(−a)) with the full-precision expf, products in the reference's order with __f*_rn.
//   The backward matches the C# loop's operations; the forward's C# reference uses TensorPrimitives.Sigmoid
//   (vectorized, its own exp), so values agree within a few float ulps (Tolerances.CudaVsCpuOpRel).
#include "qn_cuda.h"

namespace {

QN_DEVICE float qn_swiglu_sigmoid(float x) { return __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-x))); }

} // namespace

QN_KERNEL void qn_swiglu_forward_f32(float* h, const float* a, const float* __restrict__ b, int count)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
    {
        const float x = a[n];
        h[n] = __fmul_rn(__fmul_rn(qn_swiglu_sigmoid(x), x), b[n]);
    }
}

QN_KERNEL void qn_swiglu_backward_f32(float* da, float* __restrict__ db, const float* dh, const float* __restrict__ a,
                                      const float* __restrict__ b, int count)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
    {
        const float x = a[n], g = dh[n], s = qn_swiglu_sigmoid(x);
        const float dA = __fmul_rn(__fmul_rn(__fmul_rn(g, b[n]), s), __fadd_rn(1.0f, __fmul_rn(x, __fsub_rn(1.0f, s))));
        db[n] = __fmul_rn(__fmul_rn(g, x), s);
        da[n] = dA;
    }
}

QN_REGISTER_KERNELS(qn_swiglu_forward_f32, qn_swiglu_backward_f32)
