// convert.cu — float32 → fp16 of the activations a low-bit linear reads on the device decode path
// (DeviceInferenceSession: the low-bit GEMV/MMA kernels take fp16 x).
//
// C# reference: the C# conversion (Half)x, round to nearest even, overflow to ±inf, NaN stays NaN, as
//   DeviceBlockLinears rounds x before its upload.
// Tests: tests/QuantNative.Tests/Cuda/InferKernelTests.cs and `qn test-backend --op f32-to-f16`
//   (src/QuantNative/Verification/InferenceOpCases.cs): bit for bit, values around fp16's range and subnormals.
//
// qn_f32_to_f16(dst, src, count)
//   dst fp16 [count] out;  src float32 [count] in.
// Launch configuration: 1-D grid-stride loop (C# min(ceil(n/256), 65535) blocks of 256); count < 2^31.
// Numerics: __float2half_rn: bit-exact with the reference.
#include "qn_cuda.h"

QN_KERNEL void qn_f32_to_f16(__half* __restrict__ dst, const float* __restrict__ src, int count)
{
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); n < count; n += stride)
        dst[n] = __float2half_rn(src[n]);
}

QN_REGISTER_KERNELS(qn_f32_to_f16)
