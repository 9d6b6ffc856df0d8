// embedding.cu — the token embedding lookup of the device decode path (DeviceInferenceSession): x[t, :] = table[ids[t], :].
//
// C# reference: src/QuantNative/Inference/TokenEmbedding.cs (Lookup: the row of the id, copied).
// Tests: tests/QuantNative.Tests/Cuda/InferKernelTests.cs and `qn test-backend --op embedding*`
//   (src/QuantNative/Verification/InferenceOpCases.cs): bit for bit, awkward hidden sizes, repeated ids, outputs poisoned.
//
// qn_embedding_lookup_f32(x, table, ids, tokens, hidden)
//   x      float32 [tokens, hidden] out
//   table  float32 [vocab, hidden]  in: a float32 checkpoint's embedding
// qn_embedding_lookup_{bf16,f16}(x, table, ids, tokens, hidden): the same from a BF16/F16 table as the checkpoint
//   stores it, each element widened (exact).
//   ids    int32   [tokens]         in: every id in 0..vocab−1 (checked on the host before the upload: the kernel
//                                   cannot report a bad id, it would read another row or past the table)
// Launch configuration: 1-D grid-stride loop over tokens·hidden (C# min(ceil(n/256), 65535) blocks of 256);
//   tokens·hidden < 2^31; the table row offset is 64-bit. No shared memory. Cost: a copy of T rows.
// Numerics: a copy (a widening for BF16/F16): bit-exact.
#include "qn_cuda.h"

namespace
{

QN_DEVICE float qn_embedding_value(float v) { return v; }
QN_DEVICE float qn_embedding_value(__nv_bfloat16 v) { return __bfloat162float(v); }
QN_DEVICE float qn_embedding_value(__half v) { return __half2float(v); }

template <typename T>
QN_DEVICE void qn_embedding_lookup(float* x, const T* table, const int* ids, int tokens, int hidden)
{
    const int count = tokens * hidden; // < 2^31, checked by the caller
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
    {
        const int t = n / hidden, c = n - t * hidden;
        x[n] = qn_embedding_value(table[static_cast<long long>(ids[t]) * hidden + c]);
    }
}

} // namespace

QN_KERNEL void qn_embedding_lookup_f32(float* __restrict__ x, const float* __restrict__ table,
                                       const int* __restrict__ ids, int tokens, int hidden)
{
    qn_embedding_lookup(x, table, ids, tokens, hidden);
}

QN_KERNEL void qn_embedding_lookup_bf16(float* __restrict__ x, const __nv_bfloat16* __restrict__ table,
                                        const int* __restrict__ ids, int tokens, int hidden)
{
    qn_embedding_lookup(x, table, ids, tokens, hidden);
}

QN_KERNEL void qn_embedding_lookup_f16(float* __restrict__ x, const __half* __restrict__ table,
                                       const int* __restrict__ ids, int tokens, int hidden)
{
    qn_embedding_lookup(x, table, ids, tokens, hidden);
}

QN_REGISTER_KERNELS(qn_embedding_lookup_f32, qn_embedding_lookup_bf16, qn_embedding_lookup_f16)
