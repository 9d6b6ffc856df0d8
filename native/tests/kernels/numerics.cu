// numerics.cu — emulator self-test kernels: __half / __nv_bfloat16 conversions and arithmetic, math intrinsics,
// lop3. Never shipped. Tests: tests/QuantNative.Tests/Interop/EmulatorNumericsTests.cs (against C# scalar
// definitions: round-to-nearest-even on the bit patterns, System.Half, MathF).
//
// qn_selftest_convert_from_float(out, in, n): in float32 [n]; out uint16 [n * 4]: __float2half_rn, __float2half_rz,
//   __float2bfloat16_rn, __float2bfloat16_rz bit patterns of in[i].
// qn_selftest_convert_to_float(out, bits, n): bits uint16 [n]; out float32 [n * 2]: __half2float, __bfloat162float.
// qn_selftest_half_arith(out, a, b, c, n): a, b, c uint16 [n] (half bits); out uint16 [n * 8]: __hadd, __hsub,
//   __hmul, __hdiv, __hfma(a, b, c); then the same a, b, c read as bfloat16: __hadd, __hmul, __hfma.
// qn_selftest_half2(outF, outH, in, n): in float32 [2n]; outH uint32 [n]: __floats2half2_rn(in[2i], in[2i+1]) then
//   __hadd2 with itself, as raw bits (low half = x); outF float32 [2n]: __half22float2 of that sum.
// qn_selftest_math(out, outI, x, y, n): x, y float32 [n]; out float32 [n * 10]: rintf(x), __saturatef(x),
//   rsqrtf(|x|), fmaf(x, y, 1), __fdividef(x, y), fminf(x, y), fmaxf(x, y), __expf(x / 16), expf(x / 16),
//   __frcp_rn(x); outI int32 [n * 2]: __float2int_rn(x), __float2int_rz(x).
// qn_selftest_lop3(out, a, b, c, n): uint32 [n] inputs; out uint32 [256 * n]: out[lut * n + i] = lop3.b32 of
//   a[i], b[i], c[i] with truth table lut, for every lut in 0..255.
#include "qn_cuda.h"

#include <utility>

QN_KERNEL void qn_selftest_convert_from_float(unsigned short* out, const float* in, int n)
{
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const float x = in[i];
    out[4 * i + 0] = __half_as_ushort(__float2half_rn(x));
    out[4 * i + 1] = __half_as_ushort(__float2half_rz(x));
    out[4 * i + 2] = __bfloat16_as_ushort(__float2bfloat16_rn(x));
    out[4 * i + 3] = __bfloat16_as_ushort(__float2bfloat16_rz(x));
}

QN_KERNEL void qn_selftest_convert_to_float(float* out, const unsigned short* bits, int n)
{
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    out[2 * i + 0] = __half2float(__ushort_as_half(bits[i]));
    out[2 * i + 1] = __bfloat162float(__ushort_as_bfloat16(bits[i]));
}

QN_KERNEL void qn_selftest_half_arith(unsigned short* out, const unsigned short* a, const unsigned short* b,
                                      const unsigned short* c, int n)
{
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const __half ha = __ushort_as_half(a[i]), hb = __ushort_as_half(b[i]), hc = __ushort_as_half(c[i]);
    out[8 * i + 0] = __half_as_ushort(__hadd(ha, hb));
    out[8 * i + 1] = __half_as_ushort(__hsub(ha, hb));
    out[8 * i + 2] = __half_as_ushort(__hmul(ha, hb));
    out[8 * i + 3] = __half_as_ushort(__hdiv(ha, hb));
    out[8 * i + 4] = __half_as_ushort(__hfma(ha, hb, hc));
    const __nv_bfloat16 ba = __ushort_as_bfloat16(a[i]), bb = __ushort_as_bfloat16(b[i]), bc = __ushort_as_bfloat16(c[i]);
    out[8 * i + 5] = __bfloat16_as_ushort(__hadd(ba, bb));
    out[8 * i + 6] = __bfloat16_as_ushort(__hmul(ba, bb));
    out[8 * i + 7] = __bfloat16_as_ushort(__hfma(ba, bb, bc));
}

QN_KERNEL void qn_selftest_half2(float* outF, unsigned int* outH, const float* in, int n)
{
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const __half2 h = __floats2half2_rn(in[2 * i], in[2 * i + 1]);
    const __half2 s = __hadd2(h, h);
    outH[i] = static_cast<unsigned int>(__half_as_ushort(__low2half(s))) |
              (static_cast<unsigned int>(__half_as_ushort(__high2half(s))) << 16);
    const float2 f = __half22float2(s);
    outF[2 * i] = f.x;
    outF[2 * i + 1] = f.y;
}

QN_KERNEL void qn_selftest_math(float* out, int* outI, const float* x, const float* y, int n)
{
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const float a = x[i], b = y[i];
    float* o = out + static_cast<size_t>(i) * 10;
    o[0] = rintf(a);
    o[1] = __saturatef(a);
    o[2] = rsqrtf(fabsf(a));
    o[3] = fmaf(a, b, 1.0f);
    o[4] = __fdividef(a, b);
    o[5] = fminf(a, b);
    o[6] = fmaxf(a, b);
    o[7] = __expf(a / 16.0f);
    o[8] = expf(a / 16.0f);
    o[9] = __frcp_rn(a);
    outI[2 * i] = __float2int_rn(a);
    outI[2 * i + 1] = __float2int_rz(a);
}

namespace
{
template <uint32_t... Luts>
__device__ __forceinline__ void selftest_lop3_all(uint32_t* out, uint32_t a, uint32_t b, uint32_t c, int i, int n,
                                                  std::integer_sequence<uint32_t, Luts...>)
{
    ((out[static_cast<size_t>(Luts) * static_cast<size_t>(n) + static_cast<size_t>(i)] = qn_lop3<Luts>(a, b, c)), ...);
}
} // namespace

QN_KERNEL void qn_selftest_lop3(uint32_t* out, const uint32_t* a, const uint32_t* b, const uint32_t* c, int n)
{
    const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    selftest_lop3_all(out, a[i], b[i], c[i], i, n, std::make_integer_sequence<uint32_t, 256>{});
}

QN_REGISTER_KERNELS(qn_selftest_convert_from_float, qn_selftest_convert_to_float, qn_selftest_half_arith,
                    qn_selftest_half2, qn_selftest_math, qn_selftest_lop3)
