// tensor_core.cu — emulator self-test kernels: mma.sync m16n8k16 (f16, bf16), ldmatrix x1/x2/x4 (.trans), the
// ldmatrix -> mma pipeline GEMM kernels use, and WMMA m16n16k16. Never shipped.
// Tests: tests/QuantNative.Tests/Interop/EmulatorTensorCoreTests.cs (against scalar matmuls and the PTX ISA's
// fragment tables, written again in C#).
//
// Every kernel here uses whole warps; a block may hold several warps, each with its own tile.
// qn_selftest_mma(d, a, b, c, bf16): per warp w (global warp index): A uint16 [w][16][16] row-major (half or
//   bfloat16 bits), B uint16 [w][16][8] row-major (k, n), C and D float32 [w][16][8] row-major. Each lane
//   gathers its fragments from global memory by the PTX ISA's formulas (groupID g = lane >> 2, t = lane % 4),
//   runs mma.sync, and scatters D by the accumulator formula.
// qn_selftest_ldmatrix(out, src, rows, variant): src uint16 [32][8] (32 rows of 8 elements); rows int32 [32]:
//   lane l passes the address of row rows[l] (copied to shared memory). variant 0..5 = x1, x1.trans, x2, x2.trans,
//   x4, x4.trans. out uint32 [32][4]: lane l writes its registers r[0..count-1] (the rest untouched).
//   One warp.
// qn_selftest_ldmatrix_mma(d, a, b, c): A uint16 [16][16] row-major half, B uint16 [16][8] row-major (k, n) half,
//   C, D float32 [16][8]: A via ldmatrix.x4 (lane l: row l % 16, column 8 * (l / 16)), B via ldmatrix.x2.trans
//   (lane l < 16: row k = l), then mma.sync. One warp.
// qn_selftest_wmma(d, a, b, c, layouts, ld): per warp w: A half [w][16][ld] (row-major) or [w][16 cols][ld]
//   (col-major), B likewise, C float32 [w][16][ld] row- or col-major; D = A*B + C stored in C's layout with
//   leading dimension ld (>= 16). layouts bits: 1 = A col-major, 2 = B col-major, 4 = C/D col-major.
#include "qn_cuda.h"

namespace
{
__device__ __forceinline__ uint32_t selftest_pack(unsigned short lo, unsigned short hi)
{
    return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
}
} // namespace

QN_KERNEL void qn_selftest_mma(float* d, const unsigned short* a, const unsigned short* b, const float* c, int bf16)
{
    const unsigned int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32u;
    const int lane = static_cast<int>(threadIdx.x % 32u);
    const int g = lane >> 2, t = lane % 4;
    const unsigned short* A = a + static_cast<size_t>(warp) * 256;
    const unsigned short* B = b + static_cast<size_t>(warp) * 128;
    const float* C = c + static_cast<size_t>(warp) * 128;
    float* D = d + static_cast<size_t>(warp) * 128;
    // A: a_i at row g (+8 for i in {2,3,6,7}), col 2t + (i & 1) (+8 for i >= 4); a[r] packs a_{2r}, a_{2r+1}.
    uint32_t ra[4];
    ra[0] = selftest_pack(A[g * 16 + 2 * t], A[g * 16 + 2 * t + 1]);
    ra[1] = selftest_pack(A[(g + 8) * 16 + 2 * t], A[(g + 8) * 16 + 2 * t + 1]);
    ra[2] = selftest_pack(A[g * 16 + 2 * t + 8], A[g * 16 + 2 * t + 9]);
    ra[3] = selftest_pack(A[(g + 8) * 16 + 2 * t + 8], A[(g + 8) * 16 + 2 * t + 9]);
    // B: b_i at row (k) 2t + (i & 1) (+8 for i >= 2), col (n) g.
    uint32_t rb[2];
    rb[0] = selftest_pack(B[(2 * t) * 8 + g], B[(2 * t + 1) * 8 + g]);
    rb[1] = selftest_pack(B[(2 * t + 8) * 8 + g], B[(2 * t + 9) * 8 + g]);
    // C/D: c_i at row g (+8 for i >= 2), col 2t + (i & 1).
    float rc[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
    float rd[4];
    if (bf16) qn_mma_m16n8k16_bf16(rd, ra, rb, rc);
    else qn_mma_m16n8k16_f16(rd, ra, rb, rc);
    D[g * 8 + 2 * t] = rd[0];
    D[g * 8 + 2 * t + 1] = rd[1];
    D[(g + 8) * 8 + 2 * t] = rd[2];
    D[(g + 8) * 8 + 2 * t + 1] = rd[3];
}

QN_KERNEL void qn_selftest_ldmatrix(uint32_t* out, const unsigned short* src, const int* rows, int variant)
{
    __shared__ __align__(16) unsigned short tile[32 * 8];
    const unsigned int lane = threadIdx.x;
    for (int e = 0; e < 8; ++e) tile[lane * 8 + static_cast<unsigned int>(e)] = src[lane * 8 + static_cast<unsigned int>(e)];
    __syncwarp();
    const void* row = &tile[rows[lane] * 8];
    uint32_t* o = out + lane * 4;
    switch (variant)
    {
    case 0: { uint32_t r; qn_ldmatrix_x1(r, row); o[0] = r; break; }
    case 1: { uint32_t r; qn_ldmatrix_x1_trans(r, row); o[0] = r; break; }
    case 2: { uint32_t r[2]; qn_ldmatrix_x2(r, row); o[0] = r[0]; o[1] = r[1]; break; }
    case 3: { uint32_t r[2]; qn_ldmatrix_x2_trans(r, row); o[0] = r[0]; o[1] = r[1]; break; }
    case 4: { uint32_t r[4]; qn_ldmatrix_x4(r, row); o[0] = r[0]; o[1] = r[1]; o[2] = r[2]; o[3] = r[3]; break; }
    default: { uint32_t r[4]; qn_ldmatrix_x4_trans(r, row); o[0] = r[0]; o[1] = r[1]; o[2] = r[2]; o[3] = r[3]; break; }
    }
}

QN_KERNEL void qn_selftest_ldmatrix_mma(float* d, const unsigned short* a, const unsigned short* b, const float* c)
{
    __shared__ __align__(16) unsigned short sa[16 * 16];
    __shared__ __align__(16) unsigned short sb[16 * 8];
    const int lane = static_cast<int>(threadIdx.x);
    for (int i = lane; i < 256; i += 32) sa[i] = a[i];
    for (int i = lane; i < 128; i += 32) sb[i] = b[i];
    __syncwarp();
    uint32_t ra[4], rb[2];
    qn_ldmatrix_x4(ra, &sa[(lane % 16) * 16 + 8 * (lane / 16)]);
    qn_ldmatrix_x2_trans(rb, &sb[(lane % 16) * 8]);
    const int g = lane >> 2, t = lane % 4;
    float rc[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1], c[(g + 8) * 8 + 2 * t], c[(g + 8) * 8 + 2 * t + 1]};
    float rd[4];
    qn_mma_m16n8k16_f16(rd, ra, rb, rc);
    d[g * 8 + 2 * t] = rd[0];
    d[g * 8 + 2 * t + 1] = rd[1];
    d[(g + 8) * 8 + 2 * t] = rd[2];
    d[(g + 8) * 8 + 2 * t + 1] = rd[3];
}

namespace
{
using namespace nvcuda;

template <typename LA, typename LB>
__device__ __forceinline__ void selftest_wmma_tile(float* D, const __half* A, const __half* B, const float* C,
                                                   bool colC, unsigned int ld)
{
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, LA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, LB> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
    wmma::load_matrix_sync(fa, A, ld);
    wmma::load_matrix_sync(fb, B, ld);
    wmma::load_matrix_sync(fc, C, ld, colC ? wmma::mem_col_major : wmma::mem_row_major);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(D, fc, ld, colC ? wmma::mem_col_major : wmma::mem_row_major);
}
} // namespace

QN_KERNEL void qn_selftest_wmma(float* d, const __half* a, const __half* b, const float* c, int layouts, int ld)
{
    const size_t warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32u;
    const size_t tile = static_cast<size_t>(16) * static_cast<size_t>(ld);
    const unsigned int uld = static_cast<unsigned int>(ld);
    const bool colC = (layouts & 4) != 0;
    const __half* A = a + warp * tile;
    const __half* B = b + warp * tile;
    const float* C = c + warp * tile;
    float* D = d + warp * tile;
    switch (layouts & 3)
    {
    case 0: selftest_wmma_tile<wmma::row_major, wmma::row_major>(D, A, B, C, colC, uld); break;
    case 1: selftest_wmma_tile<wmma::col_major, wmma::row_major>(D, A, B, C, colC, uld); break;
    case 2: selftest_wmma_tile<wmma::row_major, wmma::col_major>(D, A, B, C, colC, uld); break;
    default: selftest_wmma_tile<wmma::col_major, wmma::col_major>(D, A, B, C, colC, uld); break;
    }
}

QN_REGISTER_KERNELS(qn_selftest_mma, qn_selftest_ldmatrix, qn_selftest_ldmatrix_mma, qn_selftest_wmma)
