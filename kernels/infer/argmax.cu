// argmax.cu — the greedy choice of the device decode path: the index of the largest logit, so a greedy decode step
// copies 4 bytes back to the host instead of the vocabulary's logits.
//
// C# reference: src/QuantNative/Inference/Sampler.cs (Sampler.ArgMax: the first index of the maximum; a NaN never
//   wins, and a NaN at index 0 is returned, since nothing compares greater than it).
// Tests: tests/QuantNative.Tests/Cuda/InferKernelTests.cs and `qn test-backend --op argmax`
//   (src/QuantNative/Verification/InferenceOpCases.cs): exact index, awkward counts, planted ties, NaNs, all −inf.
//
// qn_argmax_f32(result, values, count)
//   result int32 [1] out: the index;  values float32 [count] in, count ≥ 1.
// Launch configuration: grid = (1); block = (T), T a multiple of 32 in [32, 1024] (C# 1024); static shared memory
//   2·32 words. Each thread scans i = tid, tid + T, …; the (value, index) pairs are then reduced within each warp by
//   an xor butterfly and across the warps in warp order.
// Order: the pair (v, i) beats (w, j) when v > w, or v == w and i < j — a total order on the non-NaN values, so the
//   result is the first maximum whatever the reduction's shape. NaN is read as −∞ (never greater; a tie at −∞ goes
//   to the lower index), and a NaN at index 0 returns 0 as the reference does: exact with Sampler.ArgMax.
// Cost: one read of the logits by one block (the vocabulary is ~32k–152k floats: a few microseconds).
#include "qn_cuda.h"

namespace {

QN_DEVICE bool qn_argmax_beats(float v, int i, float w, int j) { return v > w || (v == w && i < j); }

} // namespace

QN_KERNEL void qn_argmax_f32(int* __restrict__ result, const float* __restrict__ values, int count)
{
    __shared__ float bestValue[32];
    __shared__ int bestIndex[32];
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    float v = -INFINITY;
    int index = 0x7fffffff; // loses to any element, −∞ included
    for (int i = tid; i < count; i += threads)
    {
        const float x = isnan(values[i]) ? -INFINITY : values[i];
        if (qn_argmax_beats(x, i, v, index)) v = x, index = i;
    }
    for (int o = 16; o > 0; o >>= 1)
    {
        const float w = __shfl_xor_sync(0xffffffffu, v, o);
        const int j = __shfl_xor_sync(0xffffffffu, index, o);
        if (qn_argmax_beats(w, j, v, index)) v = w, index = j;
    }
    if ((tid & 31) == 0) bestValue[tid >> 5] = v, bestIndex[tid >> 5] = index;
    __syncthreads();
    if (tid == 0)
    {
        for (int w = 1; w < threads >> 5; ++w)
            if (qn_argmax_beats(bestValue[w], bestIndex[w], v, index)) v = bestValue[w], index = bestIndex[w];
        result[0] = isnan(values[0]) ? 0 : index;
    }
}

QN_REGISTER_KERNELS(qn_argmax_f32)
