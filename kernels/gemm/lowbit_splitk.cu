// lowbit_splitk.cu — the reduction after a split-K launch of lowbit_mma.cu: out[i] = Σ_{z < S} partial[z·count + i],
// summed in z order (deterministic), written as fp16 (…_f16, rounded once) or float32 (…_f32). DESIGN.md §8.
//
// C# reference: the sum itself; the caller is LowBitDeviceLinear.Forward, which launches qn_lowbit_mma_forward_f32
//   with grid.z = S into a float32 workspace [S, M, N] and then this (LowBitMmaLaunch.Splits chooses S).
// Tests: tests/QuantNative.Tests/Inference/LowBit/LowBitMmaKernelTests.cs (split-K through LowBitDeviceLinear against
//   LowBitLinear.ForwardCpu, fp16 and fp32 outputs, S = 2, 3 and more splits than stages).
// Arguments: out fp16 or float32 [count]; partial float32 [S, count]; S ≥ 1, count ≥ 1 int (S·count < 2^31).
// Launch: grid-stride over count, any grid and block (C#: 256 threads, ceil(count / 256) blocks capped at 65535);
//   coalesced: S float reads and one write per element (S·count·4 + count·(2 or 4) bytes).
// Numerics: float32 adds of S partials in a fixed order (the GEMM's accumulation order differs from the unsplit
//   kernel's only in where the k-ranges are summed: within Tolerances.LowBitMmaSumRel).
#include "qn_cuda.h"
#include "lowbit_common.cuh"

namespace {

template <typename OutT>
QN_DEVICE void qn_lbs_reduce(OutT* out, const float* partial, int splits, int count)
{
    for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < count;
         i += static_cast<int>(gridDim.x * blockDim.x))
    {
        float v = 0.0f;
        for (int z = 0; z < splits; ++z) v += partial[static_cast<long long>(z) * count + i];
        qn_lb_store(out, i, v);
    }
}

} // namespace

QN_KERNEL void qn_lowbit_splitk_reduce_forward_f16(__half* __restrict__ out, const float* __restrict__ partial,
                                                   int splits, int count)
{
    qn_lbs_reduce(out, partial, splits, count);
}

QN_KERNEL void qn_lowbit_splitk_reduce_forward_f32(float* __restrict__ out, const float* __restrict__ partial,
                                                   int splits, int count)
{
    qn_lbs_reduce(out, partial, splits, count);
}

QN_REGISTER_KERNELS(qn_lowbit_splitk_reduce_forward_f16, qn_lowbit_splitk_reduce_forward_f32)
