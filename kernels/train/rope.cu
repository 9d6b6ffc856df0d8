// rope.cu — rotary position embedding forward and backward (DESIGN.md §7.8), rotate-half layout, in place, float32.
//
// C# reference: src/QuantNative/Cpu/Rope.cs (Rope.Forward / Backward at first position 0), through CpuBackend.
// Tests: tests/QuantNative.Tests/Cuda/TrainKernelTests.cs (against the CPU backend, bit for bit),
//   Training/BackendBlockTests.cs (the whole block).
//
// qn_rope_forward_f32(x, cosTable, sinTable, rows, heads, headDim)
// qn_rope_backward_f32(dx, cosTable, sinTable, rows, heads, headDim)
//   x / dx     float32 [rows, heads·headDim]  in/out: row r holds position r; within each head element i pairs with
//                                             i + headDim/2: (a, b) → (a·cos − b·sin, b·cos + a·sin); the backward
//                                             rotates by −θ (sin negated): the gradient of the unrotated tensor.
//   cosTable, sinTable float32 [≥ rows, headDim/2]  in: cos/sin(p·theta^(−2i/headDim)), the C# Rope's float tables
//                                             (computed in double, rounded once), uploaded by the CUDA backend.
// Launch configuration: grid = (rows), one block per row; block = (T), any T ≥ 1 (C# 256); threads stride over the
//   heads·headDim/2 pairs of the row. headDim even; rows·heads·headDim < 2^31; no shared memory.
// Cost: one read and one write of x; memory-bound.
// Numerics: the reference's float operations in its order with __f*_rn (no FMA): bit-exact with the CPU backend.
#include "qn_cuda.h"

namespace {

QN_DEVICE void qn_rope_rotate(float* x, const float* cosTable, const float* sinTable, int rows, int heads,
                              int headDim, bool inverse)
{
    const int row = static_cast<int>(blockIdx.x);
    if (row >= rows) return;
    const int half = headDim / 2, pairs = heads * half;
    float* xr = x + static_cast<long long>(row) * heads * headDim;
    const float* c = cosTable + static_cast<long long>(row) * half;
    const float* s = sinTable + static_cast<long long>(row) * half;
    for (int p = static_cast<int>(threadIdx.x); p < pairs; p += static_cast<int>(blockDim.x))
    {
        const int h = p / half, i = p - h * half;
        float* head = xr + h * headDim;
        const float a = head[i], b = head[i + half], ci = c[i], si = inverse ? -s[i] : s[i];
        head[i] = __fsub_rn(__fmul_rn(a, ci), __fmul_rn(b, si));
        head[i + half] = __fadd_rn(__fmul_rn(b, ci), __fmul_rn(a, si));
    }
}

} // namespace

QN_KERNEL void qn_rope_forward_f32(float* x, const float* __restrict__ cosTable, const float* __restrict__ sinTable,
                                   int rows, int heads, int headDim)
{
    qn_rope_rotate(x, cosTable, sinTable, rows, heads, headDim, false);
}

QN_KERNEL void qn_rope_backward_f32(float* dx, const float* __restrict__ cosTable,
                                    const float* __restrict__ sinTable, int rows, int heads, int headDim)
{
    qn_rope_rotate(dx, cosTable, sinTable, rows, heads, headDim, true);
}

QN_REGISTER_KERNELS(qn_rope_forward_f32, qn_rope_backward_f32)
