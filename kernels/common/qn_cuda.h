// qn_cuda.h — the one header every kernels/<family>/*.cu includes (DESIGN.md §4, §9).
//
// It compiles under nvcc (device code for the fatbins) and under the host C++ compiler (the CPU emulator,
// native/emulator/qn_emulator.h). It provides:
//   QN_KERNEL                      `extern "C" __global__`: kernels are launched by name (cuModuleGetFunction /
//                                  qn_emu_launch_kernel) with the void** argument array of cuLaunchKernel.
//   QN_REGISTER_KERNELS(a, b, ...) at file scope after the kernels, once per .cu file: lists its kernels so the
//                                  emulator can launch them by name (empty under nvcc).
//   QN_DYNAMIC_SHARED(T, name)     `T* name` = the block's dynamic shared memory (the launch's shared bytes),
//                                  16-byte aligned on a GPU (the emulator aligns it to 128 bytes and fills it with
//                                  0xff bytes before each block, so reading it before writing shows up as NaN/-1).
//   qn_lane_id()                   the lane of the calling thread in its warp.
//   PTX wrappers (inline asm under nvcc, the emulator's implementation otherwise), with the PTX ISA's layouts:
//     qn_mma_m16n8k16_f16 / _bf16  mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 d, a, b, c
//                                  (groupID g = lane>>2, t = lane%4; A 16x16 row: a[r] packs elements 2r, 2r+1 of
//                                  {(g,2t),(g,2t+1),(g+8,2t),(g+8,2t+1),(g,2t+8),(g,2t+9),(g+8,2t+8),(g+8,2t+9)};
//                                  B 16x8 col: b[0] = (2t,g),(2t+1,g); b[1] = (2t+8,g),(2t+9,g);
//                                  C/D 16x8: c[0..3] = (g,2t),(g,2t+1),(g+8,2t),(g+8,2t+1); low half = lower index)
//     qn_ldmatrix_x1/x2/x4[_trans] ldmatrix.sync.aligned.m8n8.x{1,2,4}{.trans}.shared.b16: lanes 8i..8i+7 give the
//                                  16-byte-aligned row addresses of matrix i; r[i] of lane l = row l/4, elements
//                                  2(l%4), 2(l%4)+1 (with .trans: column l/4, rows 2(l%4), 2(l%4)+1).
//     qn_cp_async_cg16[_zfill], qn_cp_async_ca<4|8|16>[_zfill], qn_cp_async_commit(), qn_cp_async_wait<N>(),
//     qn_cp_async_wait_all()       cp.async.{cg,ca}.shared.global (+ src-size zero fill) and its groups. The
//                                  emulator performs a thread's copies when it waits for their group, so reading
//                                  the destination before the wait reads stale data, as it may on a GPU.
//     qn_lop3<LUT>(a, b, c)        lop3.b32: bit k of the result = bit (4*a_k + 2*b_k + c_k) of LUT.
// Under the emulator the warp-collective wrappers (mma, ldmatrix) meet the other 31 lanes at a warp barrier; a
// lane that is missing, has exited, or waits elsewhere makes the launch fail with the call site.
//
// Unity builds: CMake compiles each family folder as ONE translation unit (all its .cu files included in one),
// for the fatbin and for the emulator alike, so file-scope helper names must be unique within a family.
#pragma once

#if defined(__CUDACC__)
#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#define QN_REGISTER_KERNELS(...)
#define QN_DYNAMIC_SHARED(T, name) \
    extern __shared__ __align__(16) unsigned char qn_dynamic_shared_[]; \
    T* name = reinterpret_cast<T*>(qn_dynamic_shared_)
// Call-site parameters only the emulator uses (its errors name the kernel's line, not this header's).
#define QN_SITE_PARAMS
#define QN_SITE_ARGS
#else
#include "qn_emulator.h"
#define QN_REGISTER_KERNELS(...) QN_EMU_REGISTER_KERNELS(__VA_ARGS__)
#define QN_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::qn::emu::dynamic_shared_memory())
#define QN_SITE_PARAMS , const char *qn_file = __builtin_FILE(), int qn_line = __builtin_LINE()
#define QN_SITE_ARGS , qn_file, qn_line
#endif

#define QN_KERNEL extern "C" __global__
#define QN_DEVICE __device__ __forceinline__

QN_DEVICE unsigned int qn_lane_id()
{
#if defined(__CUDACC__)
    unsigned int lane;
    asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
    return lane;
#else
    return ::qn::emu::lane_id();
#endif
}

#if defined(__CUDACC__)
QN_DEVICE unsigned int qn_smem_address(const void* p) { return static_cast<unsigned int>(__cvta_generic_to_shared(p)); }
#endif

// d = A(16x16, row) * B(16x8, col) + C, fp32 accumulate; a/b hold packed half2 registers.
QN_DEVICE void qn_mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                   const float (&c)[4] QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%10,%11,%12,%13};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
                   "f"(c[2]), "f"(c[3]));
#else
    ::qn::emu::mma_m16n8k16(d, a, b, c, ::qn::emu::MmaType::F16 QN_SITE_ARGS);
#endif
}

QN_DEVICE void qn_mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                    const float (&c)[4] QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%10,%11,%12,%13};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),
                   "f"(c[2]), "f"(c[3]));
#else
    ::qn::emu::mma_m16n8k16(d, a, b, c, ::qn::emu::MmaType::BF16 QN_SITE_ARGS);
#endif
}

QN_DEVICE void qn_ldmatrix_x1(uint32_t& r0, const void* smemRow QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r0) : "r"(qn_smem_address(smemRow)));
#else
    ::qn::emu::ldmatrix(&r0, 1, false, smemRow QN_SITE_ARGS);
#endif
}

QN_DEVICE void qn_ldmatrix_x1_trans(uint32_t& r0, const void* smemRow QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r0) : "r"(qn_smem_address(smemRow)));
#else
    ::qn::emu::ldmatrix(&r0, 1, true, smemRow QN_SITE_ARGS);
#endif
}

QN_DEVICE void qn_ldmatrix_x2(uint32_t (&r)[2], const void* smemRow QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(qn_smem_address(smemRow)));
#else
    ::qn::emu::ldmatrix(r, 2, false, smemRow QN_SITE_ARGS);
#endif
}

QN_DEVICE void qn_ldmatrix_x2_trans(uint32_t (&r)[2], const void* smemRow QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1]) : "r"(qn_smem_address(smemRow)));
#else
    ::qn::emu::ldmatrix(r, 2, true, smemRow QN_SITE_ARGS);
#endif
}

QN_DEVICE void qn_ldmatrix_x4(uint32_t (&r)[4], const void* smemRow QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(qn_smem_address(smemRow)));
#else
    ::qn::emu::ldmatrix(r, 4, false, smemRow QN_SITE_ARGS);
#endif
}

QN_DEVICE void qn_ldmatrix_x4_trans(uint32_t (&r)[4], const void* smemRow QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(qn_smem_address(smemRow)));
#else
    ::qn::emu::ldmatrix(r, 4, true, smemRow QN_SITE_ARGS);
#endif
}

// 16 bytes global -> shared, bypassing L1. Both addresses 16-byte aligned.
QN_DEVICE void qn_cp_async_cg16(void* smemDst, const void* gmemSrc QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(qn_smem_address(smemDst)), "l"(gmemSrc));
#else
    ::qn::emu::cp_async(smemDst, gmemSrc, 16, 16 QN_SITE_ARGS);
#endif
}

// As qn_cp_async_cg16, reading only srcBytes (0..16) and filling the rest of the 16 bytes with zeros.
QN_DEVICE void qn_cp_async_cg16_zfill(void* smemDst, const void* gmemSrc, int srcBytes QN_SITE_PARAMS)
{
#if defined(__CUDACC__)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(qn_smem_address(smemDst)), "l"(gmemSrc),
                 "r"(srcBytes));
#else
    ::qn::emu::cp_async(smemDst, gmemSrc, 16, srcBytes QN_SITE_ARGS);
#endif
}

// Bytes (4, 8 or 16) global -> shared through L1. Both addresses aligned to Bytes.
template <int Bytes>
QN_DEVICE void qn_cp_async_ca(void* smemDst, const void* gmemSrc QN_SITE_PARAMS)
{
    static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async.ca copies 4, 8 or 16 bytes");
#if defined(__CUDACC__)
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(qn_smem_address(smemDst)), "l"(gmemSrc),
                 "n"(Bytes));
#else
    ::qn::emu::cp_async(smemDst, gmemSrc, Bytes, Bytes QN_SITE_ARGS);
#endif
}

template <int Bytes>
QN_DEVICE void qn_cp_async_ca_zfill(void* smemDst, const void* gmemSrc, int srcBytes QN_SITE_PARAMS)
{
    static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async.ca copies 4, 8 or 16 bytes");
#if defined(__CUDACC__)
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(qn_smem_address(smemDst)), "l"(gmemSrc),
                 "n"(Bytes), "r"(srcBytes));
#else
    ::qn::emu::cp_async(smemDst, gmemSrc, Bytes, srcBytes QN_SITE_ARGS);
#endif
}

// Closes the calling thread's current group of cp.async operations.
QN_DEVICE void qn_cp_async_commit()
{
#if defined(__CUDACC__)
    asm volatile("cp.async.commit_group;\n" ::);
#else
    ::qn::emu::cp_async_commit();
#endif
}

// Waits until at most N of the calling thread's committed groups are still pending.
template <int N>
QN_DEVICE void qn_cp_async_wait()
{
#if defined(__CUDACC__)
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#else
    ::qn::emu::cp_async_wait(N);
#endif
}

// Waits for all of the calling thread's cp.async operations, committed or not.
QN_DEVICE void qn_cp_async_wait_all()
{
#if defined(__CUDACC__)
    asm volatile("cp.async.wait_all;\n" ::);
#else
    ::qn::emu::cp_async_commit();
    ::qn::emu::cp_async_wait(0);
#endif
}

template <uint32_t Lut>
QN_DEVICE uint32_t qn_lop3(uint32_t a, uint32_t b, uint32_t c)
{
    static_assert(Lut < 256, "lop3 takes an 8-bit truth table");
#if defined(__CUDACC__)
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, %4;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c), "n"(Lut));
    return d;
#else
    uint32_t d = 0;
    for (uint32_t k = 0; k < 8; ++k)
        if ((Lut >> k) & 1u) d |= ((k & 4u) ? a : ~a) & ((k & 2u) ? b : ~b) & ((k & 1u) ? c : ~c);
    return d;
#endif
}
