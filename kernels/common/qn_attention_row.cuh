// qn_attention_row.cuh — one query row of causal attention, shared by the training forward
// (kernels/train/attention.cu: query i at position i over the window's keys) and the decode path
// (kernels/infer/attention_decode.cu: query at firstPosition + i over the KV cache), so both compute a row the same
// way: S_j = q·k_j·scale for the row's keys j0..last, P = softmax(S), out = P·V.
//
// qn_attn_dot(a, b, n)          Σ a[d]·b[d], sequentially, __f*_rn (no FMA contraction)
// qn_attn_first_key(p, window)  the earliest key position p sees: 0 plain causal (window 0), else max(0, p − W + 1)
// qn_attention_row(out, qi, kh, vh, kvWidth, headDim, j0, last, scale, p, part) → {max S, Σ exp(S − max)}
//   out  float32 [headDim]: Σ_j P_j·v_j (written by threads d = tid, tid + T, ...)
//   qi   float32 [headDim]: the query; kh, vh: the head's first key / value row, rows kvWidth floats apart
//   p    float32 [last − j0 + 1]: the block's dynamic shared memory (scores, then probabilities, at p[j − j0])
//   part float32 [32]: static shared memory for the block reductions
//   Every thread of the block calls it (block reductions with barriers: qn_reduce.cuh's assumptions). The result lets
//   the training forward save the row's log-sum-exp, max + log(sum).
// Each family is one translation unit (cmake/QnKernels.cmake), so #pragma once keeps one copy per family.
#pragma once
#include "qn_cuda.h"
#include "qn_reduce.cuh"

QN_DEVICE float qn_attn_dot(const float* a, const float* b, int n)
{
    float s = 0.0f;
    for (int d = 0; d < n; ++d) s = __fadd_rn(s, __fmul_rn(a[d], b[d]));
    return s;
}

// Written without p − W + 1 for p < W, so a window up to INT_MAX cannot overflow.
QN_DEVICE int qn_attn_first_key(int p, int window)
{
    return window > 0 && p >= window ? p - window + 1 : 0;
}

struct QnAttentionRowStats
{
    float max, sum;
};

QN_DEVICE QnAttentionRowStats qn_attention_row(float* out, const float* qi, const float* kh, const float* vh,
                                               long long kvWidth, int headDim, int j0, int last, float scale, float* p,
                                               float* part)
{
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    float localMax = -INFINITY;
    for (int j = j0 + tid; j <= last; j += threads)
    {
        const float s = __fmul_rn(qn_attn_dot(qi, kh + j * kvWidth, headDim), scale);
        p[j - j0] = s;
        localMax = fmaxf(localMax, s);
    }
    const float maxS = qn_block_max(localMax, part);
    float localSum = 0.0f;
    for (int j = j0 + tid; j <= last; j += threads)
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
        for (int j = j0; j <= last; ++j)
            acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(p[j - j0], inv), vh[j * kvWidth + d]));
        out[d] = acc;
    }
    return {maxS, sum};
}
