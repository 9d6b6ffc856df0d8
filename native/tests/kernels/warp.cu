// warp.cu — emulator self-test kernels: shuffles, votes, reductions, matches, __syncwarp, __activemask.
// Never shipped. Tests: tests/QuantNative.Tests/Interop/EmulatorWarpTests.cs (against the CUDA programming
// guide's scalar definitions, written in C#).
//
// qn_selftest_shuffle(out, in, args, nargs): in int32 [T] (T = total threads, 1-D grid, blockDim multiple of 32),
//   args int32 [nargs] (source lanes / deltas / lane masks, 0..63). For mode m in {idx, up, down, xor}, width
//   index w (width = 1 << w, w = 0..5) and argument a: out[((m * 6 + w) * nargs + a) * T + g] = the shuffle of in
//   with that width and argument (all lanes of the warp take part, mask 0xffffffff).
// qn_selftest_shuffle_types(outD, outF, outL, inD, inF, inL): [T] each; double via __shfl_sync(src = (7*lane+3)%32),
//   float via __shfl_down_sync(delta 3), long long via __shfl_xor_sync(mask 5): 8- and 4-byte payloads.
// qn_selftest_shuffle_partial(out, in): [T]; lanes 0-15 run __shfl_xor_sync(0x0000ffff, v, 1) while lanes 16-31
//   run __shfl_down_sync(0xffff0000, v, 2, 16): two independent groups in one warp.
// qn_selftest_vote(out, pred): pred int32 [T]; out uint32 [T * 12]: ballot, any, all (full mask); ballot, any,
//   all over the even lanes only (mask 0x55555555, odd lanes skip); __activemask() inside `if (pred & 2)` (the
//   others wait at __syncwarp); __reduce_add_sync(v), __reduce_min_sync(int v), __reduce_max_sync(unsigned v),
//   __match_any_sync(v & 3) and the __syncwarp exchange s[31 - lane] (s = shared, written before __syncwarp),
//   with v = pred >> 2 (signed for min).
#include "qn_cuda.h"

namespace
{
__device__ __forceinline__ int selftest_shuffle_one(int mode, int v, int arg, int width)
{
    switch (mode)
    {
    case 0: return __shfl_sync(0xffffffffu, v, arg, width);
    case 1: return __shfl_up_sync(0xffffffffu, v, static_cast<unsigned int>(arg), width);
    case 2: return __shfl_down_sync(0xffffffffu, v, static_cast<unsigned int>(arg), width);
    default: return __shfl_xor_sync(0xffffffffu, v, arg, width);
    }
}
} // namespace

QN_KERNEL void qn_selftest_shuffle(int* out, const int* in, const int* args, int nargs)
{
    const size_t total = static_cast<size_t>(gridDim.x) * blockDim.x;
    const size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int v = in[g];
    for (int mode = 0; mode < 4; ++mode)
        for (int w = 0; w < 6; ++w)
            for (int a = 0; a < nargs; ++a)
                out[(static_cast<size_t>(mode * 6 + w) * nargs + a) * total + g] =
                    selftest_shuffle_one(mode, v, args[a], 1 << w);
}

QN_KERNEL void qn_selftest_shuffle_types(double* outD, float* outF, long long* outL, const double* inD,
                                         const float* inF, const long long* inL)
{
    const size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int lane = static_cast<int>(threadIdx.x % 32u);
    outD[g] = __shfl_sync(0xffffffffu, inD[g], (7 * lane + 3) % 32);
    outF[g] = __shfl_down_sync(0xffffffffu, inF[g], 3);
    outL[g] = __shfl_xor_sync(0xffffffffu, inL[g], 5);
}

QN_KERNEL void qn_selftest_shuffle_partial(int* out, const int* in)
{
    const size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const unsigned int lane = threadIdx.x % 32u;
    int v = in[g];
    if (lane < 16u) v = __shfl_xor_sync(0x0000ffffu, v, 1);
    else v = __shfl_down_sync(0xffff0000u, v, 2, 16);
    out[g] = v;
}

QN_KERNEL void qn_selftest_vote(unsigned int* out, const int* pred)
{
    __shared__ unsigned int s[1024];
    const size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const unsigned int lane = threadIdx.x % 32u;
    const unsigned int warpBase = threadIdx.x - lane;
    const int p = pred[g];
    unsigned int* o = out + g * 12;
    o[0] = __ballot_sync(0xffffffffu, p & 1);
    o[1] = static_cast<unsigned int>(__any_sync(0xffffffffu, p & 1));
    o[2] = static_cast<unsigned int>(__all_sync(0xffffffffu, p & 1));
    if (lane % 2u == 0u)
    {
        o[3] = __ballot_sync(0x55555555u, p & 1);
        o[4] = static_cast<unsigned int>(__any_sync(0x55555555u, p & 1));
        o[5] = static_cast<unsigned int>(__all_sync(0x55555555u, p & 1));
    }
    if (p & 2) o[6] = __activemask();
    __syncwarp();
    const int v = p >> 2;
    o[7] = static_cast<unsigned int>(__reduce_add_sync(0xffffffffu, static_cast<unsigned int>(v)));
    o[8] = static_cast<unsigned int>(__reduce_min_sync(0xffffffffu, v));
    o[9] = __reduce_max_sync(0xffffffffu, static_cast<unsigned int>(v));
    o[10] = __match_any_sync(0xffffffffu, v & 3);
    s[threadIdx.x] = static_cast<unsigned int>(v);
    __syncwarp();
    o[11] = s[warpBase + 31u - lane];
}

QN_REGISTER_KERNELS(qn_selftest_shuffle, qn_selftest_shuffle_types, qn_selftest_shuffle_partial, qn_selftest_vote)
