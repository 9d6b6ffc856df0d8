// sde.cu — the two non-GEMM pieces of SDE (DESIGN.md §7.6), float32, over a mask stored as entries (i, j) in
//   column-major order (SdeMaskLayout): E compact, one value per entry.
//
// C# reference: src/QuantNative/Cpu/SdeMath.cs (SdeMath.Columns, SdeMath.MaskedDots), through CpuBackend.
// Tests: tests/QuantNative.Tests/Cuda/SdeKernelTests.cs (against the CPU backend, poisoned outputs);
//   tests/QuantNative.Tests/Quantization/Learned/OmniQuantBackendTests.cs (lsi and cqe+ epochs on the emulator).
//
// qn_sde_columns_f32(at, ut, e, maskRows, columnStarts, active, rows)
//   at float32 [active, rows] out: row j = Σ_{p in column j} e[p]·ut[maskRows[p], :] (Aᵀ of A = U·(M⊙E)), summed from
//     0 in entry order;  ut float32 [≥ active, rows] in;  e float32 [entries] in;  maskRows int32 [entries] in;
//     columnStarts int32 [active + 1] in (column j's entries are [columnStarts[j], columnStarts[j + 1])).
// qn_sde_masked_dot_f32(dE, ut, tt, maskRows, maskCols, rows)
//   dE float32 [gridDim.x = entries] out: dE[p] = ⟨ut[maskRows[p], :], tt[maskCols[p], :]⟩;  ut, tt float32
//     [≥ active, rows] in;  maskRows, maskCols int32 [entries] in.
// Launch configuration: columns: any 1-D grid-stride launch (C# min(ceil(active·rows/256), 65535) blocks of 256),
//   active·rows < 2^31, no shared memory. masked dot: grid = (entries), block = (256) (a multiple of 32: the block
//   reduction of kernels/common/qn_reduce.cuh), static shared 32 floats.
// Cost: columns reads each used ut row once per entry of its column (rows·entries multiply-adds), memory-bound;
//   masked dot reads two rows per entry (2·rows·entries floats), memory-bound.
// Numerics: columns repeats the reference's float operations in its order with __f*_rn: bit-exact. The masked dot
//   sums in another order than the reference's TensorPrimitives.Dot (strided partials, a warp butterfly, warps in
//   order): equal within float rounding (Tolerances.CudaVsCpuOpRel).
#include "qn_cuda.h"
#include "qn_reduce.cuh"

QN_KERNEL void qn_sde_columns_f32(float* __restrict__ at, const float* __restrict__ ut, const float* __restrict__ e,
                                  const int* __restrict__ maskRows, const int* __restrict__ columnStarts, int active,
                                  int rows)
{
    const int total = active * rows;
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < total; n += stride)
    {
        const int j = n / rows, o = n - j * rows;
        float sum = 0.0f;
        for (int p = columnStarts[j]; p < columnStarts[j + 1]; ++p)
            sum = __fadd_rn(sum, __fmul_rn(e[p], ut[maskRows[p] * rows + o]));
        at[n] = sum;
    }
}

QN_KERNEL void qn_sde_masked_dot_f32(float* __restrict__ dE, const float* __restrict__ ut,
                                     const float* __restrict__ tt, const int* __restrict__ maskRows,
                                     const int* __restrict__ maskCols, int rows)
{
    __shared__ float part[32];
    const int p = static_cast<int>(blockIdx.x);
    const float* u = ut + maskRows[p] * rows;
    const float* t = tt + maskCols[p] * rows;
    float sum = 0.0f;
    for (int o = static_cast<int>(threadIdx.x); o < rows; o += static_cast<int>(blockDim.x))
        sum = __fadd_rn(sum, __fmul_rn(u[o], t[o]));
    sum = qn_block_sum(sum, part);
    if (threadIdx.x == 0) dE[p] = sum;
}

QN_REGISTER_KERNELS(qn_sde_columns_f32, qn_sde_masked_dot_f32)
