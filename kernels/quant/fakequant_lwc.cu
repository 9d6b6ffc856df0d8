// fakequant_lwc.cu — fused LWC fake quantization (DESIGN.md §7.1 + §7.3), forward and exact backward, one launch
// each, for float32 weights.
//
// C# reference: src/QuantNative/Cpu/LwcFakeQuant.cs (LwcFakeQuant.Forward / Backward, float32; the
// kernels perform the same float operations in the same order, see "Numerics").
// Tests: tests/QuantNative.Tests/Cuda/LwcKernelTests.cs (kernels on the emulator against the reference, awkward
// shapes, poisoned outputs), Lwc/FakeQuantBackendTests.cs (the CUDA backend end to end, launch checks),
// Lwc/LwcReferenceTests.cs (the reference against finite differences), Lwc/CudaRuntimeTests.cs (fatbin kernel names
// where a driver exists).
//
// Shapes and layouts (row-major, contiguous; rows = output channels, groups along the columns):
//   G = ceil(cols / groupSize) groups per row; group j of row r is columns [j*groupSize, min((j+1)*groupSize, cols))
//   (the last group is shorter when groupSize does not divide cols; per-channel is groupSize = cols).
//
// qn_fakequant_lwc_forward_f32(wq, codes, scale, zero, wmax, wmin, w, u, l, rows, cols, groupSize, bits,
//                              grid, minScale, maxScale)
//   wq     float32 [rows, cols]  out: ŵ = (q − z)·s
//   codes  uint8   [rows, cols]  out: q = clamp(rint(w/s) + z, 0, qmax)
//   scale  float32 [rows, G]     out (saved): s = clamp((γ·max(w) − β·min(w)) / qmax, minScale, maxScale)
//   zero   float32 [rows, G]     out (saved): z = clamp(rint(−β·min(w) / s), 0, qmax) (an integer held in a float)
//   wmax   float32 [rows, G]     out (saved): max(w) of the group
//   wmin   float32 [rows, G]     out (saved): min(w) of the group
//   w      float32 [rows, cols]  in
//   u, l   float32 [rows, G]     in: raw clipping parameters, γ = σ(u), β = σ(l)
//   rows, cols, groupSize, bits  int (groupSize: the group length, cols for per-channel); minScale, maxScale float
//                                (the §7.1 clamp on s, 1e-5 and 1e4). Constants come after the sizes.
//   grid         int             0 (LwcGrid.ZeroPoint): as above; 1 (Symmetric): qn's symmetric clipping
//                                (LwcFakeQuant's summary), h = 2^(bits−1): if −min(w) ≥ max(w): s = clamp(γ·(−min(w))/h),
//                                z = h, else s = clamp(γ·max(w)/h), z = h − 1; l is not read. 2 (FreeMinimum): s as in 0,
//                                zero holds the offset m = β·min(w) (not rounded), q = clamp(rint((w − m)/s), 0, qmax),
//                                ŵ = q·s + m.
//
// qn_fakequant_lwc_backward_f32(dW, du, dl, dWq, w, u, l, scale, zero, wmax, wmin, rows, cols, groupSize, bits,
//                               grid, minScale, maxScale)
//   dW     float32 [rows, cols]  out: dL/dw (SDE path): g·[inside] + (dL/dxmax)·γ/nmax on every element equal to
//                                max(w), + (dL/dxmin)·β/nmin on every element equal to min(w) (ties split evenly)
//   du, dl float32 [rows, G]     out: dL/du = (gs/qmax)·max(w)·γ(1−γ), dL/dl = (−gs/qmax)·min(w)·β(1−β)
//   dWq    float32 [rows, cols]  in: g = dL/dŵ
//   w, u, l                      in, as in the forward; scale, zero, wmax, wmin: the forward's saved state
//   gs = Σ g_i·(inside ? rint(r_i) − r_i : q_i − z), r_i = w_i/s; gs = 0 when the clamp on s is active (recomputed
//   from u, l, wmax, wmin with the forward's operations, so the decision is the forward's).
//   symmetric: dL/dx = −gs/h on the negative side (du = dL/dx·min(w)·γ(1−γ), arg-min elements + dL/dx·γ/nmin), gs/h
//   on the positive side (max(w), arg-max elements); dl = 0.
//   free minimum: y_i = (w_i − m)/s, gs = Σ g_i·(inside ? rint(y_i) − y_i : q_i), gm = Σ g_i over clipped elements
//   (not zeroed by the clamp on s); dL/dxmin = −gs/qmax + gm, the rest as for 0.
//
// Launch configuration (both kernels; C# checks all of it before launching, src/QuantNative/Cuda/LwcLaunch.cs):
//   grid = (rows·G, 1, 1): one block per (row, group), block b is row b / G, group b % G;
//   block = (T, 1, 1), T a multiple of 32 in [32, 1024] (C# uses min(256, roundup32(group length)));
//   no dynamic shared memory; static shared memory: forward 2·32 floats (256 bytes: the warps' max and min),
//   backward 2·32 floats + 2·32 ints (512 bytes: the warps' gs, gm and tie counts); no alignment assumptions beyond
//   float/byte alignment; 1 <= rows, 1 <= cols, 1 <= groupSize <= cols, 2 <= bits <= 8, rows·G <= 2^31 − 1,
//   rows·cols < 2^31.
//   Each thread handles columns start + tid, start + tid + T, ... of its group; the per-group max/min (forward) and
//   the sum gs and the tie counts (backward) are reduced by the warp butterflies of kernels/common/qn_reduce.cuh and
//   then across warps in warp order through shared memory, one barrier for all of a kernel's reductions (ptxas,
//   CUDA 11.8: forward 34 registers on sm_80/86/89/90, backward 39/47/47/39 with the free minimum's second sum; no
//   spills, no local memory).
//   The group is read twice (the second read from L1/L2); each output is written once (dW of a tied max/min element
//   is written twice by the same thread).
//
// Numerics: IEEE float32, round to nearest even; rounding to integers by rintf (half to even, as the C#
// reference's MathF.Round(x, MidpointRounding.ToEven)). Every operation whose result must be reproduced
// bit for bit is written with __fadd_rn/__fsub_rn/__fmul_rn/__fdiv_rn, so nvcc cannot contract it into an FMA (the
// emulator compiles with -ffp-contract=off). σ(x) = 1/(1 + expf(−x)) with the full-precision expf: the emulator and
// C# both call the C library's expf, so codes, ŵ, s, z are bit-exact there; on a GPU expf may differ from the C
// library by an ulp, which can move γ, s, and rarely a code by one. Max/min reductions are exact in any order; the
// sum gs is reduced in a different order than the reference's sequential loop, so du, dl and the tie terms of dW
// agree within float rounding (Tolerances.LwcGradientRel); the direct part g·[inside] of dW is exact.
#include "qn_cuda.h"
#include "qn_reduce.cuh"

namespace {

QN_DEVICE float qn_lwc_sigmoid(float x) { return __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-x))); }

// The group's scale before its clamp (the forward's operations, shared by the backward); symmetric: the side of the
// largest magnitude (negative: −min(w) ≥ max(w)), β = 0 and l unread.
struct QnLwcGroup
{
    float gamma, beta, rawScale;
    bool negative;
};

// The kernels' grid argument (LwcGrid in C#).
constexpr int QN_LWC_SYMMETRIC = 1;
constexpr int QN_LWC_FREE_MINIMUM = 2;

QN_DEVICE QnLwcGroup qn_lwc_group(const float* l, long long p, float u, float maxW, float minW, int bits, int grid)
{
    QnLwcGroup g;
    g.gamma = qn_lwc_sigmoid(u);
    if (grid == QN_LWC_SYMMETRIC)
    {
        g.beta = 0.0f;
        g.negative = -minW >= maxW;
        g.rawScale = __fdiv_rn(__fmul_rn(g.gamma, g.negative ? -minW : maxW), static_cast<float>(1 << (bits - 1)));
        return g;
    }
    g.beta = qn_lwc_sigmoid(l[p]);
    g.negative = false;
    const float xmax = __fmul_rn(g.gamma, maxW);
    const float xmin = __fmul_rn(g.beta, minW);
    g.rawScale = __fdiv_rn(__fsub_rn(xmax, xmin), static_cast<float>((1 << bits) - 1));
    return g;
}

// Where the elements and parameters of block b = blockIdx.x < rows·G are: row b / G, group b % G (the kernels
// return first for b ≥ rows·G).
struct QnLwcBlock
{
    int length;     // the group's length (shorter for the last group when groupSize does not divide cols)
    long long base; // the group's first element in w, wq, codes, dW, dWq
    long long p;    // its index in scale, zero, wmax, wmin, u, l, du, dl
};

QN_DEVICE int qn_lwc_groups(int cols, int groupSize) { return (cols + groupSize - 1) / groupSize; }

QN_DEVICE QnLwcBlock qn_lwc_block(int cols, int groupSize, int groups)
{
    const int block = static_cast<int>(blockIdx.x);
    const int row = block / groups;
    const int group = block - row * groups;
    const int start = group * groupSize;
    QnLwcBlock b;
    b.length = min(groupSize, cols - start);
    b.base = static_cast<long long>(row) * cols + start;
    b.p = static_cast<long long>(row) * groups + group;
    return b;
}

} // namespace

QN_KERNEL void qn_fakequant_lwc_forward_f32(float* __restrict__ wq, unsigned char* __restrict__ codes,
                                            float* __restrict__ scale, float* __restrict__ zero,
                                            float* __restrict__ wmax, float* __restrict__ wmin,
                                            const float* __restrict__ w, const float* __restrict__ u,
                                            const float* __restrict__ l, int rows, int cols, int groupSize, int bits,
                                            int grid, float minScale, float maxScale)
{
    __shared__ float partMax[32];
    __shared__ float partMin[32];
    const int groups = qn_lwc_groups(cols, groupSize);
    if (static_cast<int>(blockIdx.x) >= rows * groups) return;
    const QnLwcBlock b = qn_lwc_block(cols, groupSize, groups);
    const int length = b.length;
    const long long base = b.base, p = b.p;
    const float* gw = w + base;
    const int tid = static_cast<int>(threadIdx.x);
    const int threads = static_cast<int>(blockDim.x);

    float localMax = -INFINITY, localMin = INFINITY;
    for (int i = tid; i < length; i += threads)
    {
        const float v = gw[i];
        localMax = fmaxf(localMax, v);
        localMin = fminf(localMin, v);
    }
    qn_block_publish(qn_warp_max(localMax), partMax);
    qn_block_publish(qn_warp_min(localMin), partMin);
    __syncthreads(); // one barrier for both reductions; partMax/partMin are not reused
    const float maxW = qn_block_combine_max(partMax);
    const float minW = qn_block_combine_min(partMin);

    const float qmax = static_cast<float>((1 << bits) - 1);
    const QnLwcGroup g = qn_lwc_group(l, p, u[p], maxW, minW, bits, grid);
    const float s = fminf(fmaxf(g.rawScale, minScale), maxScale);
    const float half = static_cast<float>(1 << (bits - 1));
    const bool free = grid == QN_LWC_FREE_MINIMUM;
    // z: the zero point, or the free minimum's offset m.
    const float z = grid == QN_LWC_SYMMETRIC ? (g.negative ? half : __fsub_rn(half, 1.0f))
                    : free ? __fmul_rn(g.beta, minW)
                           : fminf(fmaxf(rintf(__fdiv_rn(-__fmul_rn(g.beta, minW), s)), 0.0f), qmax);
    if (tid == 0)
    {
        scale[p] = s;
        zero[p] = z;
        wmax[p] = maxW;
        wmin[p] = minW;
    }

    for (int i = tid; i < length; i += threads)
    {
        const float c = free ? rintf(__fdiv_rn(__fsub_rn(gw[i], z), s)) : __fadd_rn(rintf(__fdiv_rn(gw[i], s)), z);
        const float q = fminf(fmaxf(c, 0.0f), qmax);
        codes[base + i] = static_cast<unsigned char>(q);
        wq[base + i] = free ? __fadd_rn(__fmul_rn(q, s), z) : __fmul_rn(__fsub_rn(q, z), s);
    }
}

QN_KERNEL void qn_fakequant_lwc_backward_f32(float* __restrict__ dW, float* __restrict__ du, float* __restrict__ dl,
                                             const float* __restrict__ dWq, const float* __restrict__ w,
                                             const float* __restrict__ u, const float* __restrict__ l,
                                             const float* __restrict__ scale, const float* __restrict__ zero,
                                             const float* __restrict__ wmax, const float* __restrict__ wmin, int rows,
                                             int cols, int groupSize, int bits, int grid, float minScale,
                                             float maxScale)
{
    __shared__ float partSum[32];
    __shared__ float partClipped[32];
    __shared__ int partMaxTies[32];
    __shared__ int partMinTies[32];
    const int groups = qn_lwc_groups(cols, groupSize);
    if (static_cast<int>(blockIdx.x) >= rows * groups) return;
    const QnLwcBlock b = qn_lwc_block(cols, groupSize, groups);
    const int length = b.length;
    const long long base = b.base, p = b.p;
    const int tid = static_cast<int>(threadIdx.x);
    const int threads = static_cast<int>(blockDim.x);

    const float qmax = static_cast<float>((1 << bits) - 1);
    const float s = scale[p], z = zero[p], maxW = wmax[p], minW = wmin[p];

    const bool free = grid == QN_LWC_FREE_MINIMUM;
    // Pass 1: the direct part of dW, this thread's share of gs (and gm, the free minimum's clipped sum), the tie counts.
    float gs = 0.0f, gm = 0.0f;
    int maxTies = 0, minTies = 0;
    for (int i = tid; i < length; i += threads)
    {
        const float v = w[base + i];
        const float g = dWq[base + i];
        // Free minimum: r = (w − m)/s and c = rint(r) is the code (z holds m); otherwise c = rint(w/s) + z.
        const float r = free ? __fdiv_rn(__fsub_rn(v, z), s) : __fdiv_rn(v, s);
        const float rr = rintf(r);
        const float c = free ? rr : __fadd_rn(rr, z);
        const bool inside = c >= 0.0f && c <= qmax;
        const float clamped = fminf(fmaxf(c, 0.0f), qmax);
        const float dws = inside ? __fsub_rn(rr, r) : free ? clamped : __fsub_rn(clamped, z);
        gs = __fadd_rn(gs, __fmul_rn(g, dws));
        if (!inside) gm = __fadd_rn(gm, g);
        maxTies += v == maxW ? 1 : 0;
        minTies += v == minW ? 1 : 0;
        dW[base + i] = inside ? g : 0.0f;
    }
    qn_block_publish(qn_warp_sum(gs), partSum);
    qn_block_publish(qn_warp_sum(gm), partClipped);
    qn_block_publish(qn_warp_sum(maxTies), partMaxTies);
    qn_block_publish(qn_warp_sum(minTies), partMinTies);
    __syncthreads(); // one barrier for the four reductions; the part arrays are not reused
    gs = qn_block_combine_sum(partSum);
    gm = qn_block_combine_sum(partClipped);
    maxTies = qn_block_combine_sum(partMaxTies);
    minTies = qn_block_combine_sum(partMinTies);

    const QnLwcGroup g = qn_lwc_group(l, p, u[p], maxW, minW, bits, grid);
    if (g.rawScale < minScale || g.rawScale > maxScale) gs = 0.0f;
    float addMax, addMin;
    if (grid == QN_LWC_SYMMETRIC)
    {
        // One side's range sets s = ±x/h; only that side's extreme and factor γ carry the gradient.
        const float q = __fdiv_rn(gs, static_cast<float>(1 << (bits - 1)));
        const float dX = g.negative ? -q : q;
        if (tid == 0)
        {
            du[p] = __fmul_rn(__fmul_rn(__fmul_rn(dX, g.negative ? minW : maxW), g.gamma), __fsub_rn(1.0f, g.gamma));
            dl[p] = 0.0f;
        }
        addMax = g.negative ? 0.0f : __fdiv_rn(__fmul_rn(dX, g.gamma), static_cast<float>(max(maxTies, 1)));
        addMin = g.negative ? __fdiv_rn(__fmul_rn(dX, g.gamma), static_cast<float>(max(minTies, 1))) : 0.0f;
    }
    else
    {
        const float dXmax = __fdiv_rn(gs, qmax);
        // The free minimum is also the offset: clipped elements move with it one for one.
        const float dXmin = free ? __fadd_rn(-dXmax, gm) : -dXmax;
        if (tid == 0)
        {
            du[p] = __fmul_rn(__fmul_rn(__fmul_rn(dXmax, maxW), g.gamma), __fsub_rn(1.0f, g.gamma));
            dl[p] = __fmul_rn(__fmul_rn(__fmul_rn(dXmin, minW), g.beta), __fsub_rn(1.0f, g.beta));
        }
        addMax = __fdiv_rn(__fmul_rn(dXmax, g.gamma), static_cast<float>(max(maxTies, 1)));
        addMin = __fdiv_rn(__fmul_rn(dXmin, g.beta), static_cast<float>(max(minTies, 1)));
    }

    // Pass 2: the arg-max / arg-min paths, on this thread's own elements (no other thread touches them).
    for (int i = tid; i < length; i += threads)
    {
        const float v = w[base + i];
        if (v == maxW || v == minW)
        {
            float d = dW[base + i];
            if (v == maxW) d = __fadd_rn(d, addMax);
            if (v == minW) d = __fadd_rn(d, addMin);
            dW[base + i] = d;
        }
    }
}

QN_REGISTER_KERNELS(qn_fakequant_lwc_forward_f32, qn_fakequant_lwc_backward_f32)
