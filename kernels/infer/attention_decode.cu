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
//   Split: `--op attention-decode-split`, chunks of 1, 3, 4, 5, 7 and 40 keys on short rows (ragged and empty chunks,
//   a window), and rows of 13,001 and 20,001 keys split as a session splits them, against the float64 attention.
//   Also Inference/DeviceInferenceSessionTests.cs (greedy tokens of whole models against the CPU engine; split rows
//   against one-block rows).
//
// qn_attention_decode_f32(output, q, kCache, vCache, tokens, firstPosition, heads, kvHeads, headDim, window, scale)
//   output float32 [T, heads·headDim] out
//   q      float32 [T, heads·headDim] in: rotated
//   kCache, vCache float32 [≥ firstPosition+T, kvHeads·headDim] in: rows up to firstPosition+T−1 filled (the new
//          tokens' keys, rotated, and values are written there before the launch)
//   scale  1/sqrt(headDim) rounded to float (an argument, DESIGN.md §9)
// Launch configuration (C# checks: src/QuantNative/Inference/Device/InferLaunch.cs): grid = (T, heads), one block
//   per (query row, head); block = (128), any multiple of 32 in [32, 1024]; dynamic shared memory L floats, L the
//   most keys one row sees (firstPosition+T without a window, min(that, W) with one), at most 48 KiB (L ≤ 12288;
//   longer rows go through the split kernels below); static 32 floats.
//   heads a multiple of kvHeads; (firstPosition+T)·heads·headDim < 2^31; no alignment beyond float.
//
// Split-K (flash-decoding) for rows longer than one block's shared memory holds: the row's keys j0..position are cut
// into chunks of C keys; block (i, h, s) runs the same row computation over chunk s alone and writes its normalised
// output o_s with its max m_s and sum l_s; a second kernel combines the chunks exactly as one softmax:
// M = max_s m_s, w_s = l_s·exp(m_s − M), out = Σ_s w_s·o_s / Σ_s w_s (a chunk past a row's last key has l_s = 0).
// qn_attention_decode_split_f32(partial, q, kCache, vCache, tokens, firstPosition, heads, kvHeads, headDim, window,
//                               scale, chunk, splits)
//   partial float32 [T, heads, splits, headDim + 2] out: o_s, then m_s, l_s
//   grid = (T, heads, splits), splits·chunk ≥ the most keys a row sees; block as above; dynamic shared memory chunk
//   floats (≤ 48 KiB); T·heads·splits·(headDim+2) < 2^31.
// qn_attention_combine_f32(output, partial, tokens, heads, headDim, splits)
//   grid = (T, heads); block any multiple of 32 (threads over d); no shared memory.
//   Numerics: the chunks' results are the one-block kernel's within float rounding (another summation order of the
//   softmax's sum and of P·V); expf as above. C# picks the split path only for rows of more than 12288 keys
//   (DeviceOps.AttentionDecode), so every shorter context runs the one-block kernel unchanged.
// Cost: correctness first, the training forward's row (kernels/common/qn_attention_row.cuh): one thread per key forms its score sequentially over the head
//   dimension (K rows read strided, from L2), the output loop keeps headDim threads busy reading V column-wise. At
//   decode (T = 1) a step reads the cache once per query head: heads/kvHeads × the cache bytes, small next to the
//   weights for contexts of a few thousand tokens. Rows past 12,288 keys run split (below): more blocks per row, and
//   each chunk's scores in shared memory; shorter rows keep one block per (row, head).
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

QN_KERNEL void qn_attention_decode_split_f32(float* __restrict__ partial, const float* __restrict__ q,
                                             const float* __restrict__ kCache, const float* __restrict__ vCache,
                                             int tokens, int firstPosition, int heads, int kvHeads, int headDim,
                                             int window, float scale, int chunk, int splits)
{
    QN_DYNAMIC_SHARED(float, p); // [chunk]: this chunk's scores, then probabilities
    __shared__ float part[32];
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y), s = static_cast<int>(blockIdx.z);
    if (i >= tokens || h >= heads || s >= splits) return;
    const int position = firstPosition + i;
    const int kvh = h / (heads / kvHeads);
    const long long qWidth = static_cast<long long>(heads) * headDim, kvWidth = static_cast<long long>(kvHeads) * headDim;
    const int rowFirst = qn_attn_first_key(position, window);
    // 64-bit: rowFirst + s·chunk may pass INT_MAX for the last splits of a huge window.
    const long long from = rowFirst + static_cast<long long>(s) * chunk;
    float* out = partial + ((static_cast<long long>(i) * heads + h) * splits + s) * (headDim + 2);
    if (from > position) // past this row's last key: a chunk that adds nothing
    {
        for (int d = static_cast<int>(threadIdx.x); d < headDim + 2; d += static_cast<int>(blockDim.x))
            out[d] = d == headDim ? -INFINITY : 0.0f;
        return;
    }
    const int j0 = static_cast<int>(from);
    const int last = static_cast<int>(from + chunk - 1 < position ? from + chunk - 1 : position);
    const QnAttentionRowStats stats = qn_attention_row(out, q + i * qWidth + h * headDim, kCache + kvh * headDim,
                                                       vCache + kvh * headDim, kvWidth, headDim, j0, last, scale, p, part);
    if (threadIdx.x == 0)
    {
        out[headDim] = stats.max;
        out[headDim + 1] = stats.sum;
    }
}

QN_KERNEL void qn_attention_combine_f32(float* __restrict__ output, const float* __restrict__ partial, int tokens,
                                        int heads, int headDim, int splits)
{
    const int i = static_cast<int>(blockIdx.x), h = static_cast<int>(blockIdx.y);
    if (i >= tokens || h >= heads) return;
    const float* row = partial + (static_cast<long long>(i) * heads + h) * splits * (headDim + 2);
    float m = -INFINITY;
    for (int s = 0; s < splits; ++s) m = fmaxf(m, row[s * (headDim + 2) + headDim]); // chunk 0 always holds keys
    float total = 0.0f;
    for (int s = 0; s < splits; ++s)
    {
        const float* c = row + s * (headDim + 2);
        total = __fadd_rn(total, __fmul_rn(c[headDim + 1], expf(__fsub_rn(c[headDim], m))));
    }
    const float inv = __fdiv_rn(1.0f, total);
    for (int d = static_cast<int>(threadIdx.x); d < headDim; d += static_cast<int>(blockDim.x))
    {
        float acc = 0.0f;
        for (int s = 0; s < splits; ++s)
        {
            const float* c = row + s * (headDim + 2);
            const float w = __fmul_rn(c[headDim + 1], expf(__fsub_rn(c[headDim], m))); // 0 for an empty chunk
            acc = __fadd_rn(acc, __fmul_rn(w, c[d]));
        }
        output[(static_cast<long long>(i) * heads + h) * headDim + d] = __fmul_rn(acc, inv);
    }
}

QN_REGISTER_KERNELS(qn_attention_decode_f32, qn_attention_decode_split_f32, qn_attention_combine_f32)
