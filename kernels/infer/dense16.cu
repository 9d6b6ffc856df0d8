// dense16.cu — the device decode path's dense linears on 16-bit weights as the checkpoint stores them (BF16 or F16),
// so a model's unquantized tensors take their stored bytes on the device, not a float32 copy of twice the size.
//
// C# reference: the float32 product of the weights widened exactly to float32 (BF16/F16 → float32 is exact) — what
//   the CPU engine multiplies (MappedLinear reads BF16 rows in place); DenseDeviceLinear chooses the kernel.
// Tests: tests/QuantNative.Tests/Cuda/InferKernelTests.cs and `qn test-backend --op dense16*,widen16*`
//   (src/QuantNative/Verification/InferenceOpCases.cs): BF16 and F16, tokens 1, 2, 3, 5, 8, rows 1, 17, 33,
//   130, 2048 (groups of 1, 4, 16 and 32 lanes, last warps part-filled), columns 1, 3, 64, 172, 2048, 5632,
//   accumulate or not, outputs poisoned; the widening bit for bit. Also the device greedy tests of the
//   synthetic families (BF16 checkpoints) against the CPU engine.
//
// qn_dense16_gemv_{bf16,f16}(y, x, w, tokens, n, k, accumulate, lanesPerRow)
//   y  float32 [tokens, n] out: x·Wᵀ, added to y when accumulate ≠ 0
//   x  float32 [tokens, k] in;  w  BF16/F16 [n, k] in, row-major as stored
//   For decode and short prompts: tokens ≤ 8 (QN_DENSE16_MAX_TOKENS). Each output row is a group of lanesPerRow
//   lanes of one warp (a power of two, 1..32: the smallest ≥ k/16, so each lane sums at least ~16 weights — rows of
//   thousands of columns get the whole warp, a 64-wide model's rows 4 lanes, 8 rows per warp); lane l of the group
//   reads the row's elements l, l + lanesPerRow, … (neighbouring lanes, neighbouring 2-byte words) and keeps one
//   float32 sum per token, then an xor butterfly within the group adds them. Each weight is read once for every
//   token.
// Launch configuration: grid = ceil(n / (4 · 32/lanesPerRow)) blocks of 128 threads (4 warps); n·k and tokens·k
//   < 2^31. No shared memory.
// qn_widen_{bf16,f16}_f32(dst, src, count): dst float32 [count] = src widened (exact); a slice of rows at a time for
//   products of more tokens, which then run through cuBLAS Sgemm (DenseDeviceLinear: slices of ≤ 4 Mi weights, so
//   the float32 copy is one slice, not the tensor). 1-D grid-stride loop, blocks of 256, count < 2^31.
// Numerics: float32 products and sums (__fmaf_rn), in another order than the reference's BLAS: within float
//   rounding (Tolerances.CudaVsCpuOpRel), not bit for bit. The widening is bit-exact.
// Cost (decode, tokens = 1): 2 bytes of weight per multiply-add, read once — half the float32 Sgemm's traffic; the
//   loads are 2-byte scalars per lane (64 bytes per warp instruction), enough to be memory-bound on rows of
//   thousands of columns; 16-byte vector loads are the next step if a GPU shows otherwise.
#include "qn_cuda.h"
#include "qn_reduce.cuh"

#define QN_DENSE16_MAX_TOKENS 8

namespace
{

QN_DEVICE float qn_widen(__nv_bfloat16 v) { return __bfloat162float(v); }
QN_DEVICE float qn_widen(__half v) { return __half2float(v); }

template <typename W>
QN_DEVICE void qn_dense16_gemv(float* y, const float* x, const W* w, int tokens, int n, int k, int accumulate,
                               int lanesPerRow)
{
    const int lane = static_cast<int>(threadIdx.x) & 31, sub = lane & (lanesPerRow - 1);
    const int warp = static_cast<int>(blockIdx.x) * (static_cast<int>(blockDim.x) / 32) + static_cast<int>(threadIdx.x) / 32;
    const int row = warp * (32 / lanesPerRow) + lane / lanesPerRow;
    // A group past the last row still takes part in its warp's shuffles (full mask); it reads and writes nothing.
    const bool live = row < n;
    const W* wr = w + static_cast<long long>(live ? row : 0) * k;
    float acc[QN_DENSE16_MAX_TOKENS];
    for (int t = 0; t < QN_DENSE16_MAX_TOKENS; ++t) acc[t] = 0.0f;
    for (int c = sub; live && c < k; c += lanesPerRow)
    {
        const float wv = qn_widen(wr[c]);
        for (int t = 0; t < QN_DENSE16_MAX_TOKENS; ++t)
            if (t < tokens) acc[t] = __fmaf_rn(wv, x[t * k + c], acc[t]);
    }
    for (int t = 0; t < QN_DENSE16_MAX_TOKENS; ++t)
    {
        if (t >= tokens) break; // uniform: every lane has the same tokens
        float sum = acc[t];
        for (int offset = lanesPerRow / 2; offset > 0; offset >>= 1) // xor butterfly within the row's lanes
            sum = __fadd_rn(sum, __shfl_xor_sync(0xffffffffu, sum, offset));
        if (live && sub == 0) y[t * n + row] = accumulate ? __fadd_rn(y[t * n + row], sum) : sum;
    }
}

template <typename W>
QN_DEVICE void qn_widen_f32(float* dst, const W* src, int count)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < count; i += stride) dst[i] = qn_widen(src[i]);
}

} // namespace

QN_KERNEL void qn_dense16_gemv_bf16(float* __restrict__ y, const float* __restrict__ x,
                                    const __nv_bfloat16* __restrict__ w, int tokens, int n, int k, int accumulate,
                                    int lanesPerRow)
{
    qn_dense16_gemv(y, x, w, tokens, n, k, accumulate, lanesPerRow);
}

QN_KERNEL void qn_dense16_gemv_f16(float* __restrict__ y, const float* __restrict__ x, const __half* __restrict__ w,
                                   int tokens, int n, int k, int accumulate, int lanesPerRow)
{
    qn_dense16_gemv(y, x, w, tokens, n, k, accumulate, lanesPerRow);
}

QN_KERNEL void qn_widen_bf16_f32(float* __restrict__ dst, const __nv_bfloat16* __restrict__ src, int count)
{
    qn_widen_f32(dst, src, count);
}

QN_KERNEL void qn_widen_f16_f32(float* __restrict__ dst, const __half* __restrict__ src, int count)
{
    qn_widen_f32(dst, src, count);
}

QN_REGISTER_KERNELS(qn_dense16_gemv_bf16, qn_dense16_gemv_f16, qn_widen_bf16_f32, qn_widen_f16_f32)
