// adamw.cu — one AdamW step (torch.optim.AdamW, amsgrad off) of one float32 parameter and its moments, in place.
//
// C# reference: src/QuantNative/Cpu/AdamWUpdate.cs (AdamWUpdate.Apply, the per-element loop of AdamW<float>),
//   with the per-step scalars of AdamWStepScalars computed in double on the host and rounded to float here.
// Tests: tests/QuantNative.Tests/Cuda/TrainKernelTests.cs (three steps against the CPU backend, bit for bit).
//
// qn_adamw_step_f32(value, expAvg, expAvgSq, grad, count, decay, weight, beta2, oneMinusBeta2, eps, stepSize,
//                   biasCorrection2Sqrt)
//   value, expAvg, expAvgSq float32 [count] in/out: p, m, v;  grad float32 [count] in.
//   p ← p·decay;  m ← lerp(m, g, weight) (torch.lerp's two formulas, split at weight 0.5);
//   v ← v·β2 + (1 − β2)·g²;  p ← p − stepSize·(m / (sqrt(v)/biasCorrection2Sqrt + eps)).
// Launch configuration: any 1-D grid-stride launch (C# min(ceil(count/256), 65535) blocks of 256); count < 2^31;
//   no shared memory. Cost: memory-bound, 4 reads and 3 writes per element.
// Numerics: the reference's float operations in its order with __f*_rn and the IEEE sqrtf: bit-exact.
#include "qn_cuda.h"

QN_KERNEL void qn_adamw_step_f32(float* __restrict__ value, float* __restrict__ expAvg, float* __restrict__ expAvgSq,
                                 const float* __restrict__ grad, int count, float decay, float weight, float beta2,
                                 float oneMinusBeta2, float eps, float stepSize, float biasCorrection2Sqrt)
{
    const bool lowWeight = weight < 0.5f;
    const float oneMinusWeight = __fsub_rn(1.0f, weight);
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < count; i += stride)
    {
        const float g = grad[i], m = expAvg[i], v = expAvgSq[i];
        const float p = __fmul_rn(value[i], decay);
        const float mi = lowWeight ? __fadd_rn(m, __fmul_rn(weight, __fsub_rn(g, m)))
                                   : __fsub_rn(g, __fmul_rn(__fsub_rn(g, m), oneMinusWeight));
        const float vi = __fadd_rn(__fmul_rn(v, beta2), __fmul_rn(oneMinusBeta2, __fmul_rn(g, g)));
        const float denom = __fadd_rn(__fdiv_rn(sqrtf(vi), biasCorrection2Sqrt), eps);
        expAvg[i] = mi;
        expAvgSq[i] = vi;
        value[i] = __fsub_rn(p, __fmul_rn(stepSize, __fdiv_rn(mi, denom)));
    }
}

QN_REGISTER_KERNELS(qn_adamw_step_f32)
