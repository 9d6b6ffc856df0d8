// barriers.cu — emulator self-test kernels: built-in variables, __syncthreads semantics, divergence errors.
// Never shipped (compiled into libqn_emulator_selftest.so, and for sm_80 only as a compile check under nvcc).
// Tests: tests/QuantNative.Tests/Interop/EmulatorBarrierTests.cs.
//
// qn_selftest_indexing(out): out int32 [blocks * threads * 12]; thread (linear t of block b) writes at
//   (b * threads + t) * 12: threadIdx.xyz, blockIdx.xyz, blockDim.xyz, gridDim.xyz. Any grid/block shape.
// qn_selftest_barrier_rotate(out, in, rounds): in/out float32 [blocks * n], n = threads per block (<= 1024).
//   Each round: s[t] = v; barrier; v = 0.5 * v + s[(t + 1 + round) % n]; barrier. out = v. Exact in fp32 for
//   inputs that are small integers (the tests use them), so the reference is bit-exact.
// qn_selftest_barrier_early_exit(out, in): int32 [blocks * n]; threads with t % 3 == 0 return at once; the
//   others write s[t] = in, pass a barrier (exited threads count as arrived), and write out = s[p] + 1 where
//   p = the next surviving thread (cyclically). Exited threads leave out untouched.
// qn_selftest_barrier_reductions(out, pred): pred int32 [blocks * n]; out int32 [blocks * 3]: thread 0 writes
//   __syncthreads_count, __syncthreads_and, __syncthreads_or of the block's predicates.
// qn_selftest_divergent(out, mode): a deliberately broken kernel; every mode must fail the launch with an error
//   (out int32 [threads] is written only by code after the faulty construct). Block of 64 threads. Modes:
//   0 threads < 16 wait at one __syncthreads, the others at another;  1 threads < 40 wait at a barrier inside
//   an if, the others at the barrier after it;  2 lanes < 16 of warp 0 shuffle with the full mask while lanes
//   16-31 wait at __syncthreads (deadlock);  3 lanes >= 16 exit while lanes < 16 shuffle with the full mask;
//   4 __trap();  5 a failed assert();  6 a shuffle whose mask names lanes beyond the block (48 threads).
#include "qn_cuda.h"

namespace
{
__device__ __forceinline__ unsigned int selftest_linear_tid()
{
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
__device__ __forceinline__ unsigned int selftest_linear_bid()
{
    return blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
}
} // namespace

QN_KERNEL void qn_selftest_indexing(int* out)
{
    const unsigned int n = blockDim.x * blockDim.y * blockDim.z;
    int* o = out + (static_cast<size_t>(selftest_linear_bid()) * n + selftest_linear_tid()) * 12;
    o[0] = static_cast<int>(threadIdx.x);
    o[1] = static_cast<int>(threadIdx.y);
    o[2] = static_cast<int>(threadIdx.z);
    o[3] = static_cast<int>(blockIdx.x);
    o[4] = static_cast<int>(blockIdx.y);
    o[5] = static_cast<int>(blockIdx.z);
    o[6] = static_cast<int>(blockDim.x);
    o[7] = static_cast<int>(blockDim.y);
    o[8] = static_cast<int>(blockDim.z);
    o[9] = static_cast<int>(gridDim.x);
    o[10] = static_cast<int>(gridDim.y);
    o[11] = static_cast<int>(gridDim.z);
}

QN_KERNEL void qn_selftest_barrier_rotate(float* out, const float* in, int rounds)
{
    __shared__ float s[1024];
    const unsigned int n = blockDim.x * blockDim.y * blockDim.z;
    const unsigned int t = selftest_linear_tid();
    const size_t g = static_cast<size_t>(selftest_linear_bid()) * n + t;
    float v = in[g];
    for (int r = 0; r < rounds; ++r)
    {
        s[t] = v;
        __syncthreads();
        v = 0.5f * v + s[(t + 1u + static_cast<unsigned int>(r)) % n];
        __syncthreads();
    }
    out[g] = v;
}

QN_KERNEL void qn_selftest_barrier_early_exit(int* out, const int* in)
{
    __shared__ int s[1024];
    const unsigned int n = blockDim.x;
    const unsigned int t = threadIdx.x;
    const size_t g = static_cast<size_t>(blockIdx.x) * n + t;
    if (t % 3u == 0u) return;
    s[t] = in[g];
    __syncthreads();
    unsigned int p = (t + 1u) % n;
    while (p % 3u == 0u) p = (p + 1u) % n;
    out[g] = s[p] + 1;
}

QN_KERNEL void qn_selftest_barrier_reductions(int* out, const int* pred)
{
    const unsigned int n = blockDim.x;
    const int p = pred[static_cast<size_t>(blockIdx.x) * n + threadIdx.x];
    const int count = __syncthreads_count(p);
    const int all = __syncthreads_and(p);
    const int any = __syncthreads_or(p);
    if (threadIdx.x == 0)
    {
        out[blockIdx.x * 3 + 0] = count;
        out[blockIdx.x * 3 + 1] = all;
        out[blockIdx.x * 3 + 2] = any;
    }
}

QN_KERNEL void qn_selftest_divergent(int* out, int mode)
{
    const unsigned int t = threadIdx.x;
    const unsigned int lane = t % 32u;
    int v = static_cast<int>(t);
    switch (mode)
    {
    case 0:
        if (t < 16u) __syncthreads();
        else __syncthreads();
        break;
    case 1:
        if (t < 40u) __syncthreads();
        __syncthreads();
        break;
    case 2:
        if (t < 32u && lane < 16u) v = __shfl_sync(0xffffffffu, v, 0);
        else __syncthreads();
        break;
    case 3:
        if (t < 32u && lane >= 16u) return;
        if (t < 32u) v = __shfl_sync(0xffffffffu, v, 31);
        break;
    case 4:
        if (t == 5u) __trap();
        break;
    case 5:
        assert(t != 7u);
        break;
    case 6:
        v = __shfl_xor_sync(0xffffffffu, v, 1);
        break;
    default:
        break;
    }
    out[t] = v;
}

QN_REGISTER_KERNELS(qn_selftest_indexing, qn_selftest_barrier_rotate, qn_selftest_barrier_early_exit,
                    qn_selftest_barrier_reductions, qn_selftest_divergent)
