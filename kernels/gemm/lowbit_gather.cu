// lowbit_gather.cu — permutes the columns of the activations for act-order low-bit weights: out[m, j] = x[m, perm[j]],
// so that lowbit_gemv.cu / lowbit_mma.cu, which assume contiguous groups, can run on weights whose input columns were
// permuted at repack time (LowBitWeights.Permutation). DESIGN.md §8; the dtype is the element's (fp16 in and out).
//
// C# reference: the permutation itself (LowBitRepack.ActOrderPermutation); the C# caller is
//   LowBitDeviceLinear.Forward, which launches this before the GEMV/GEMM when the weights have a permutation.
// Tests: tests/QuantNative.Tests/Inference/LowBit/LowBitActOrderTests.cs (GPTQ act-order weights through the device path
//   against LowBitLinear.ForwardCpu, M = 3 (GEMV) and 17 (mma)).
// Arguments: out fp16 [M, K] row-major (every element written once), x fp16 [M, K] row-major, perm int32 [K] (a
//   permutation of 0..K−1, checked by the C# side when it is made), M, K int ≥ 1, M·K < 2^31.
// Launch: grid-stride over the M·K outputs, any grid and block (C#: 256 threads, ceil(M·K / 256) blocks capped at
//   65535); consecutive threads write consecutive j (coalesced stores), the reads x[m, perm[j]] stay within one row
//   (M·K·2 bytes from L2 at worst; perm is re-read per row from L1/L2).
// Numerics: a copy, bit-exact.
#include "qn_cuda.h"

QN_KERNEL void qn_lowbit_gather_forward_f16(__half* __restrict__ out, const __half* __restrict__ x,
                                            const int* __restrict__ perm, int M, int K)
{
    const int total = M * K;
    for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < total;
         i += static_cast<int>(gridDim.x * blockDim.x))
    {
        const int m = i / K, j = i - m * K;
        out[i] = x[static_cast<long long>(m) * K + __ldg(perm + j)];
    }
}

QN_REGISTER_KERNELS(qn_lowbit_gather_forward_f16)
