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
// Cost: correctness first, the training forward's row (kernels/common/qn_attention_row.cuh): one thread per key forms its score sequentially over the head
//   dimension (K rows read strided, from L2), the output loop keeps headDim threads busy reading V column-wise. At
//   decode (T = 1) a step reads the cache once per query head: heads/kvHeads × the cache bytes, small next to the
//   weights for contexts of a few thousand tokens; a split-K (flash-decoding) kernel is the next step for long
//   contexts.
// Numerics: float32 with __f*_rn; the dot products run sequentially over the head dimension and the weighted sum
//   over the keys in order, where the reference uses BLAS GEMMs: another summation order, so results agree within
//   float rounding (Tolerances.CudaVsCpuOpRel), not bit for bit. expf of the C library on the emulator, CUDA's
//   full-precision expf on a GPU. Masked keys are never read.
#include "qn_cuda.h"
#include "qn_attention_row.cuh"

QN_KERNEL void qn_attention_decode_f32(float* __restrict__ output, const float* __restrict__ q,
                                       const float* __restrict__ kCache, const float* __restrict__ vCache,
                                       int tokens, int firstPosition, int heads, int kvHeads, int headDim, int window,
                                       float scale)
{
    QN_DYNAMIC_SHARED(float, p); // [L]: scores, then probabilities, of keys j0..position at p[j − j0]
    __shared__ float part[32];
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
    if (i >= tokens || h >= heads) return;
    const int position = firstPosition + i;
    const int kvh = h / (heads / kvHeads);
    const long long qWidth = static_cast<long long>(heads) * headDim, kvWidth = static_cast<long long>(kvHeads) * headDim;
    const float* qi = q + i * qWidth + h * headDim;
    const float* kh = kCache + kvh * headDim;
    const float* vh = vCache + kvh * headDim;
    qn_attention_row(output + i * qWidth + h * headDim, qi, kh, vh, kvWidth, headDim,
                     qn_attn_first_key(position, window), position, scale, p, part);
}

QN_REGISTER_KERNELS(qn_attention_decode_f32)
