// memory.cu — emulator self-test kernels: static and dynamic shared memory, atomics under contention, parallel and
// deterministic block scheduling. Never shipped. Tests: tests/QuantNative.Tests/Interop/EmulatorMemoryTests.cs.
//
// qn_selftest_static_shared(out, in): int32 [blocks * n] (1-D, n <= 1024). Thread 0 sets a per-block tag
//   (7 * blockIdx.x + 3) in static shared memory; each thread writes tile[t] = in + tag; barrier;
//   out = tile[n - 1 - t] - tag + 1000 * tag. Blocks running at the same time on other host threads must not see
//   each other's tile or tag.
// qn_selftest_dynamic_shared(out, in, count): float32 [blocks * count], count floats of dynamic shared memory
//   (launch with count * 4 bytes): buf[i] = 2 * in[i]; barrier; out[i] = buf[count - 1 - i].
// qn_selftest_dynamic_shared_poison(out): uint32 [n]: each thread returns the word t of dynamic shared memory
//   before anything writes it (the emulator fills it with 0xffffffff; a GPU leaves whatever was there).
// qn_selftest_atomics(ints, uints, fsum, ull, hist, next, values, n, bins): values int32 [n] (0..1023);
//   grid-stride loop over i: ints[0] += 1; ints[1] += v; ints[2] = max; ints[3] = min; ints[4] += 2 by an
//   atomicCAS loop; ints[5] = atomicSub(-v); uints[0] += v * 2654435761 (wraps); uints[1] = atomicInc(.., 9);
//   uints[2] |= 1 << (v & 31); uints[3] ^= v; uints[4] &= ~(1 << (v & 31)); fsum[0] += v % 64 (exact);
//   ull[0] += v * 1000003; hist[v % bins] += 1; next[i] = atomicExch(&ints[6], i) (a lock-free list: following
//   next from ints[6] visits every i once, ending at -1, the initial value).
// qn_selftest_atomic_contention(ci, cf, cu, iters): every thread adds 1 to *ci, 1.0f to *cf and 1 to *cu, iters
//   times each, in a tight loop: the most contended pattern (a non-atomic read-modify-write loses updates here).
// qn_selftest_parallel_blocks(seen, flags, timeoutNs): 2 blocks of 1 thread. Block b sets flags[b] = 1, then
//   spins (up to timeoutNs) until flags[1 - b] == 1; seen[b] = whether it saw it. Both see each other only when
//   the two blocks run at the same time on different host threads.
// qn_selftest_block_order(order, ticket): thread 0 of each block: order[linear block] = atomicAdd(ticket, 1).
#include "qn_cuda.h"

QN_KERNEL void qn_selftest_static_shared(int* out, const int* in)
{
    __shared__ int tile[1024];
    __shared__ int tag;
    const unsigned int n = blockDim.x;
    const unsigned int t = threadIdx.x;
    const size_t g = static_cast<size_t>(blockIdx.x) * n + t;
    if (t == 0) tag = 7 * static_cast<int>(blockIdx.x) + 3;
    __syncthreads();
    tile[t] = in[g] + tag;
    __syncthreads();
    out[g] = tile[n - 1u - t] - tag + 1000 * tag;
}

QN_KERNEL void qn_selftest_dynamic_shared(float* out, const float* in, int count)
{
    QN_DYNAMIC_SHARED(float, buf);
    const size_t base = static_cast<size_t>(blockIdx.x) * static_cast<size_t>(count);
    for (int i = static_cast<int>(threadIdx.x); i < count; i += static_cast<int>(blockDim.x)) buf[i] = 2.0f * in[base + i];
    __syncthreads();
    for (int i = static_cast<int>(threadIdx.x); i < count; i += static_cast<int>(blockDim.x)) out[base + i] = buf[count - 1 - i];
}

QN_KERNEL void qn_selftest_dynamic_shared_poison(unsigned int* out)
{
    QN_DYNAMIC_SHARED(unsigned int, words);
    out[threadIdx.x] = words[threadIdx.x];
}

QN_KERNEL void qn_selftest_atomics(int* ints, unsigned int* uints, float* fsum, unsigned long long* ull, int* hist,
                                   int* next, const int* values, int n, int bins)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += stride)
    {
        const int v = values[i];
        atomicAdd(&ints[0], 1);
        atomicAdd(&ints[1], v);
        atomicMax(&ints[2], v);
        atomicMin(&ints[3], v);
        int old = ints[4];
        for (;;)
        {
            const int seen = atomicCAS(&ints[4], old, old + 2);
            if (seen == old) break;
            old = seen;
        }
        atomicSub(&ints[5], -v);
        atomicAdd(&uints[0], static_cast<unsigned int>(v) * 2654435761u);
        atomicInc(&uints[1], 9u);
        atomicOr(&uints[2], 1u << (v & 31));
        atomicXor(&uints[3], static_cast<unsigned int>(v));
        atomicAnd(&uints[4], ~(1u << (v & 31)));
        atomicAdd(fsum, static_cast<float>(v % 64));
        atomicAdd(ull, static_cast<unsigned long long>(v) * 1000003ull);
        atomicAdd(&hist[v % bins], 1);
        next[i] = atomicExch(&ints[6], i);
    }
}

QN_KERNEL void qn_selftest_atomic_contention(int* ci, float* cf, unsigned long long* cu, int iters)
{
    for (int i = 0; i < iters; ++i)
    {
        atomicAdd(ci, 1);
        atomicAdd(cf, 1.0f);
        atomicAdd(cu, 1ull);
    }
}

QN_KERNEL void qn_selftest_parallel_blocks(int* seen, int* flags, long long timeoutNs)
{
    const unsigned int b = blockIdx.x;
    atomicExch(&flags[b], 1);
    const long long start = clock64();
    int saw = 0;
    while (clock64() - start < timeoutNs)
    {
        if (atomicAdd(&flags[1u - b], 0) == 1)
        {
            saw = 1;
            break;
        }
    }
    seen[b] = saw;
}

QN_KERNEL void qn_selftest_block_order(int* order, int* ticket)
{
    if (threadIdx.x == 0) order[blockIdx.x + gridDim.x * blockIdx.y] = atomicAdd(ticket, 1);
}

QN_REGISTER_KERNELS(qn_selftest_static_shared, qn_selftest_dynamic_shared, qn_selftest_dynamic_shared_poison,
                    qn_selftest_atomics, qn_selftest_atomic_contention, qn_selftest_parallel_blocks, qn_selftest_block_order)
