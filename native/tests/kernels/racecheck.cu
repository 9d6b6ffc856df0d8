// racecheck.cu — emulator self-test kernels for the race detector (QN_EMU_RACECHECK) and the random schedule
// (QN_EMU_SCHEDULE). Never shipped. Tests: tests/QuantNative.Tests/Interop/EmulatorRacecheckTests.cs.
//
// qn_selftest_race_neighbour(out, in, sync): out/in float32 [n], one block of n threads (n <= 256). Each thread
//   writes s[t] = in[t], then (after __syncthreads() only when sync != 0) reads s[(t + 1) % n] into out[t]. Without
//   the barrier thread t's read of s[t + 1] races with thread t + 1's write: the planted race (the first one the
//   emulator meets in thread order is thread 1's write after thread 0's read).
// qn_selftest_race_dynamic(out, in, sync): as above on dynamic shared memory (n * 4 bytes).
// qn_selftest_race_warp(out, in, mode): one warp of 32 threads; s[lane] = in[lane]; then lanes read s[lane ^ 1]:
//   mode 0 with __syncwarp() between (no race), mode 1 without (an intra-warp race), mode 2 with a shuffle between
//   (a warp-collective operation orders the lanes too: no race).
// qn_selftest_race_reuse(out, in): the classic reuse race: a block reduction into part[] read by every thread, then
//   lane 0 of each warp overwrites part[] for a second reduction with no barrier after the first reads. 64 threads.
// qn_selftest_schedule_order(out): out int32 [n], one block of n threads: each thread takes a ticket from a shared
//   counter (the order in which threads ran first) before a barrier, and out[t] = its ticket.
#include "qn_cuda.h"

QN_KERNEL void qn_selftest_race_neighbour(float* out, const float* in, int sync)
{
    __shared__ float s[256];
    const unsigned int t = threadIdx.x, n = blockDim.x;
    s[t] = in[t];
    if (sync != 0) __syncthreads();
    out[t] = s[(t + 1) % n];
}

QN_KERNEL void qn_selftest_race_dynamic(float* out, const float* in, int sync)
{
    QN_DYNAMIC_SHARED(float, s);
    const unsigned int t = threadIdx.x, n = blockDim.x;
    s[t] = in[t];
    if (sync != 0) __syncthreads();
    out[t] = s[(t + 1) % n];
}

QN_KERNEL void qn_selftest_race_warp(float* out, const float* in, int mode)
{
    __shared__ float s[32];
    const unsigned int lane = threadIdx.x;
    s[lane] = in[lane];
    float extra = 0.0f;
    if (mode == 0) __syncwarp();
    if (mode == 2) extra = __shfl_xor_sync(0xffffffffu, 0.0f, 1);
    out[lane] = s[lane ^ 1u] + extra;
}

QN_KERNEL void qn_selftest_race_reuse(float* out, const float* in)
{
    __shared__ float part[2];
    const unsigned int t = threadIdx.x;
    float v = in[t];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((t & 31u) == 0) part[t >> 5] = v;
    __syncthreads();
    const float first = part[0] + part[1];
    // Missing __syncthreads() here: warp 1's lane 0 overwrites part[1] while warp 0 may still read it.
    if ((t & 31u) == 0) part[t >> 5] = 2.0f * v;
    __syncthreads();
    out[t] = first + part[0] + part[1];
}

QN_KERNEL void qn_selftest_schedule_order(int* out)
{
    __shared__ int counter;
    if (threadIdx.x == 0) counter = 0;
    __syncthreads();
    const int ticket = atomicAdd(&counter, 1);
    __syncthreads();
    out[threadIdx.x] = ticket;
}

QN_REGISTER_KERNELS(qn_selftest_race_neighbour, qn_selftest_race_dynamic, qn_selftest_race_warp,
                    qn_selftest_race_reuse, qn_selftest_schedule_order)
