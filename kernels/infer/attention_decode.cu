// attention_decode.cu — causal grouped-query attention of the device decode path (DeviceInferenceSession) over the
// device-resident key/value cache: T new queries at positions firstPosition..firstPosition+T−1 (a whole prompt in
// one pass, or one decoded token) attend to the cached keys up to their own position: S = q·Kᵀ·scale,
// P = softmax(S), O = P·V; query head h reads key/value head h / (heads/kvHeads). With a sliding window W > 0
// (Mistral) query position p sees keys p − W < j ≤ p; W = 0 is plain causal. The window counts absolute positions,
// so a decoded token sees exactly the keys it would see in the whole sequence.
//
// C# reference: src/QuantNative/Cpu/CausalAttention.cs (Forward with a cache: CausalAttention.Forward(output, q,
//   kCache, vCache, tokens, firstPosition, heads, kvHeads, headDim, window)), what InferenceSession runs.
// Tests: tests/QuantNative.Tests/Cuda/InferKernelTests.cs and `qn test-backend --op attention-decode`
//   (src/QuantNative/Verification/InferenceOpCases.cs): GQA 4/2 and 6/3 heads, head dims 8 and 20, T = 1 (decode)
//   and 5, 17 (prefill), first positions 0, 3, 40, windows 0, 1, 4, longer than the sequence; outputs poisoned.
//   Also Inference/DeviceInferenceSessionTests.cs (greedy tokens of whole models against the CPU engine).
//
// qn_attention_decode_f32(output, q, kCache, vCache, tokens, firstPosition, heads, kvHeads, headDim, window, scale)
//   output float32 [T, heads·headDim] out
//   q      float32 [T, heads·headDim] in: rotated
//   kCache, vCache float32 [≥ firstPosition+T, kvHeads·headDim] in: rows up to firstPosition+T−1 filled (the new
//          tokens' keys, rotated, and values are written there before the launch)
//   scale  1/sqrt(headDim) rounded to float (an argument, DESIGN.md §9)
// Launch configuration (C# checks: src/QuantNative/Inference/Device/InferLaunch.cs): grid = (T, heads), one block
//   per (query row, head); block = (128), any multiple of 32 in [32, 1024]; dynamic shared memory L floats, L the
//   most keys one row sees (firstPosition+T without a window, min(that, W) with one), at most 48 KiB (L ≤ 12288:
//   longer contexts without a window need a tiled kernel and are refused before the launch); static 32 floats.
//   heads a multiple of kvHeads; (firstPosition+T)·heads·headDim < 2^31; no alignment beyond float.
// Cost: correctness first, as the training kernel: one thread per key forms its score sequentially over the head
//   dimension (K rows read strided, from L2), the output loop keeps headDim threads busy reading V column-wise. At
//   decode (T = 1) a step reads the cache once per query head: heads/kvHeads × the cache bytes, small next to the
//   weights for contexts of a few thousand tokens; a split-K (flash-decoding) kernel is the next step for long
//   contexts.
// Numerics: float32 with __f*_rn; the dot products run sequentially over the head dimension and the weighted sum
//   over the keys in order, where the reference uses BLAS GEMMs: another summation order, so results agree within
//   float rounding (Tolerances.CudaVsCpuOpRel), not bit for bit. expf of the C library on the emulator, CUDA's
//   full-precision expf on a GPU. Masked keys are never read.
#include "qn_cuda.h"
#include "qn_reduce.cuh"

namespace {

QN_DEVICE float qn_decode_dot(const float* a, const float* b, int n)
{
    float s = 0.0f;
    for (int d = 0; d < n; ++d) s = __fadd_rn(s, __fmul_rn(a[d], b[d]));
    return s;
}

// The earliest key position p sees: 0 plain causal (window 0), else max(0, p − W + 1), written without p − W + 1
// for p < W so that a window up to INT_MAX cannot overflow.
QN_DEVICE int qn_decode_first_key(int p, int window)
{
    return window > 0 && p >= window ? p - window + 1 : 0;
}

} // namespace

QN_KERNEL void qn_attention_decode_f32(float* __restrict__ output, const float* __restrict__ q,
                                       const float* __restrict__ kCache, const float* __restrict__ vCache,
                                       int tokens, int firstPosition, int heads, int kvHeads, int headDim, int window,
                                       float scale)
{
    QN_DYNAMIC_SHARED(float, p); // [L]: scores, then probabilities, of keys j0..position at p[j − j0]
    __shared__ float part[32];
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
    if (i >= tokens || h >= heads) return;
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    const int position = firstPosition + i;
    const int kvh = h / (heads / kvHeads);
    const long long qWidth = static_cast<long long>(heads) * headDim, kvWidth = static_cast<long long>(kvHeads) * headDim;
    const float* qi = q + i * qWidth + h * headDim;
    const float* kh = kCache + kvh * headDim;
    const float* vh = vCache + kvh * headDim;
    const int j0 = qn_decode_first_key(position, window);

    float localMax = -INFINITY;
    for (int j = j0 + tid; j <= position; j += threads)
    {
        const float s = __fmul_rn(qn_decode_dot(qi, kh + j * kvWidth, headDim), scale);
        p[j - j0] = s;
        localMax = fmaxf(localMax, s);
    }
    const float maxS = qn_block_max(localMax, part);
    float localSum = 0.0f;
    for (int j = j0 + tid; j <= position; j += threads)
    {
        const float e = expf(__fsub_rn(p[j - j0], maxS));
        p[j - j0] = e;
        localSum = __fadd_rn(localSum, e);
    }
    const float sum = qn_block_sum(localSum, part); // its barriers also publish p
    const float inv = __fdiv_rn(1.0f, sum);
    for (int d = tid; d < headDim; d += threads)
    {
        float acc = 0.0f;
        for (int j = j0; j <= position; ++j)
            acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(p[j - j0], inv), vh[j * kvWidth + d]));
        output[i * qWidth + h * headDim + d] = acc;
    }
}

QN_REGISTER_KERNELS(qn_attention_decode_f32)
