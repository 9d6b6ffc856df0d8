// lowbit_common.cuh — what the low-bit GEMM kernels of kernels/gemm/ share: lowbit_gemv.cu (M ≤ 8), lowbit_mma.cu
// (M > 8, tensor cores) and lowbit_splitk.cu (the split-K sum) include it. The family is one translation unit
// (cmake/QnKernels.cmake), so #pragma once keeps one copy; the names are file-scope and unique within the family.
//
//   QN_LB_UNROLL                 `#pragma unroll` under nvcc, nothing on the emulator's host compiler: loops over
//                                register arrays must be unrolled on the GPU (constant indices keep the arrays in
//                                registers: the build fails on local memory).
//   QN_LB_AND_OR                 the lop3 truth table of (a & b) | c: mask a code and OR it into a magic constant.
//   qn_lb_half_lo / _hi(word)    the low / high fp16 of a 32-bit word (scaleZero words: scale low, zero point high;
//                                x vectors: two consecutive k).
//   qn_lb_store(out, i, v)       writes the float32 accumulator v to out[i]: as it is (float32 outputs, the …_f32
//                                kernels) or rounded once to nearest even (fp16 outputs, the …_f16 kernels).
//   qn_lb_dispatch_bits<Body>(bits, args...)  runs Body::run<BITS>(args...) for bits 4, 3, 2; other bits do nothing
//                                (the kernels' documented no-op).
#pragma once
#include "qn_cuda.h"

#if defined(__CUDACC__)
#define QN_LB_UNROLL _Pragma("unroll")
#else
#define QN_LB_UNROLL
#endif

namespace {

constexpr uint32_t QN_LB_AND_OR = (0xF0u & 0xCCu) | 0xAAu;

QN_DEVICE __half qn_lb_half_lo(uint32_t v) { return __ushort_as_half(static_cast<unsigned short>(v & 0xffffu)); }
QN_DEVICE __half qn_lb_half_hi(uint32_t v) { return __ushort_as_half(static_cast<unsigned short>(v >> 16)); }

QN_DEVICE void qn_lb_store(float* out, long long i, float v) { out[i] = v; }
QN_DEVICE void qn_lb_store(__half* out, long long i, float v) { out[i] = __float2half_rn(v); }

template <typename Body, typename... Args>
QN_DEVICE void qn_lb_dispatch_bits(int bits, Args... args)
{
    if (bits == 4) Body::template run<4>(args...);
    else if (bits == 3) Body::template run<3>(args...);
    else if (bits == 2) Body::template run<2>(args...);
}

} // namespace
