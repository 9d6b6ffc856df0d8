// cp_async.cu — emulator self-test kernels: cp.async.cg/ca global -> shared copies, zero fill, groups.
// Never shipped. Tests: tests/QuantNative.Tests/Interop/EmulatorCpAsyncTests.cs.
//
// qn_selftest_cp_async(out, in, srcBytes): 1-D blocks of n threads; in/out float32 [blocks * n * 12]; srcBytes
//   int32 [n] (0..16). Thread t of block b copies into shared memory with: cg16 of its 4 floats at 12t,
//   ca<8> of 2 floats at 12t + 4, ca<4> of 1 float at 12t + 6, ca<4> of 1 float at 12t + 7 (ca<8>/ca<4> as two
//   groups), and cg16_zfill of 4 floats at 12t + 8 reading srcBytes[t] bytes (the rest zero); commits, waits
//   for all, passes a barrier and writes the shared tile reversed by thread: out[12t + k] = s[12(n-1-t) + k].
// qn_selftest_cp_async_groups(out, in): one thread; in float32 [3 * 4]; out float32 [4 * 12]. Shared memory is
//   filled with -1; three groups copy in[0..3], in[4..7], in[8..11] (16 bytes each) to s[0..11]. Snapshots of
//   s[0..11]: right after issuing (nothing has landed in the emulator), after wait_group<2> (group 0),
//   after wait_group<1> (groups 0-1), after wait_all. On a GPU the first three snapshots are races; the emulator
//   lands copies at the wait so that a missing wait shows up as stale data.
// qn_selftest_cp_async_misaligned(out, in): cg16 from in + 1 (4-byte aligned, not 16): must fail the launch.
#include "qn_cuda.h"

QN_KERNEL void qn_selftest_cp_async(float* out, const float* in, const int* srcBytes)
{
    __shared__ __align__(16) float s[12 * 256];
    const unsigned int n = blockDim.x;
    const unsigned int t = threadIdx.x;
    const float* src = in + (static_cast<size_t>(blockIdx.x) * n + t) * 12;
    float* dst = s + t * 12;
    qn_cp_async_cg16(dst, src);
    qn_cp_async_ca<8>(dst + 4, src + 4);
    qn_cp_async_commit();
    qn_cp_async_ca<4>(dst + 6, src + 6);
    qn_cp_async_ca<4>(dst + 7, src + 7);
    qn_cp_async_commit();
    qn_cp_async_cg16_zfill(dst + 8, src + 8, srcBytes[t]);
    qn_cp_async_wait_all();
    __syncthreads();
    float* o = out + (static_cast<size_t>(blockIdx.x) * n + t) * 12;
    for (int k = 0; k < 12; ++k) o[k] = s[(n - 1u - t) * 12u + static_cast<unsigned int>(k)];
}

QN_KERNEL void qn_selftest_cp_async_groups(float* out, const float* in)
{
    __shared__ __align__(16) float s[12];
    for (int k = 0; k < 12; ++k) s[k] = -1.0f;
    qn_cp_async_cg16(s, in);
    qn_cp_async_commit();
    qn_cp_async_cg16(s + 4, in + 4);
    qn_cp_async_commit();
    qn_cp_async_cg16(s + 8, in + 8);
    qn_cp_async_commit();
    for (int k = 0; k < 12; ++k) out[k] = s[k];
    qn_cp_async_wait<2>();
    for (int k = 0; k < 12; ++k) out[12 + k] = s[k];
    qn_cp_async_wait<1>();
    for (int k = 0; k < 12; ++k) out[24 + k] = s[k];
    qn_cp_async_wait_all();
    for (int k = 0; k < 12; ++k) out[36 + k] = s[k];
}

QN_KERNEL void qn_selftest_cp_async_misaligned(float* out, const float* in)
{
    __shared__ __align__(16) float s[4];
    qn_cp_async_cg16(s, in + 1);
    qn_cp_async_wait_all();
    out[0] = s[0];
}

QN_REGISTER_KERNELS(qn_selftest_cp_async, qn_selftest_cp_async_groups, qn_selftest_cp_async_misaligned)
