// qn_emulator.h — the host-compiler stand-in for the CUDA device environment (DESIGN.md §4).
//
// kernels/common/qn_cuda.h includes this header when the compiler is not nvcc, so that kernels/*.cu compile
// unchanged with the host C++ compiler and run on the CPU inside libqn_emulator.so:
//   - one host thread runs one block at a time; the threads of the block are fibers with their own stacks;
//     threadIdx/blockIdx/blockDim/gridDim are thread-local variables the scheduler sets for the running fiber;
//   - __syncthreads() parks the fiber until every thread of the block has arrived (an exited thread counts as
//     arrived); threads waiting at different barriers, or a warp operation that can never complete, are reported
//     as an error of the launch, never a hang;
//   - static __shared__ is `static thread_local` (a host thread runs one block at a time, so it is per block);
//     dynamic shared memory comes from QN_DYNAMIC_SHARED (kernels/common/qn_cuda.h);
//   - warp operations (shuffles, votes, reductions, __syncwarp, __activemask, mma, ldmatrix, WMMA) exchange data
//     among the fibers of a warp at a warp barrier;
//   - atomics are host atomics (blocks run in parallel on several host threads);
//   - __half / __nv_bfloat16 convert with CUDA's rounding (round-to-nearest-even, subnormals, inf, canonical NaN).
// Deviations from a GPU, on purpose: fibers are cooperative, so a thread spinning on a value that another thread
// of the same block writes never yields unless it calls __nanosleep(); the fast-math intrinsics (__expf, __logf,
// __fdividef, ...) are computed exactly (a GPU's approximations differ by a few ulp); mma/WMMA accumulate in
// double and round once (a tensor core rounds its fp32 partial sums, so results differ by float rounding only).
#pragma once

#if defined(__CUDACC__)
#error "qn_emulator.h is the host-compiler stand-in for CUDA; nvcc must not include it"
#endif

#include <math.h>
#include <assert.h>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <climits>
#include <ctime>
#include <type_traits>
#include <limits>
#include <utility>

#if defined(__GNUC__)
#define QN_EMU_API __attribute__((visibility("default")))
#else
#define QN_EMU_API
#endif

// ---------------------------------------------------------------------------------------------------------------
// Qualifiers
// ---------------------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local
#define __constant__ static
#define __managed__
#define __grid_constant__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

// ---------------------------------------------------------------------------------------------------------------
// Vector types and built-in variables
// ---------------------------------------------------------------------------------------------------------------
struct uint3 { unsigned int x, y, z; };
struct dim3
{
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define QN_EMU_VEC1(T, N, A) \
    struct alignas(A) N { T x; }; \
    inline constexpr N make_##N(T x) { return N{x}; }
#define QN_EMU_VEC2(T, N, A) \
    struct alignas(A) N { T x, y; }; \
    inline constexpr N make_##N(T x, T y) { return N{x, y}; }
#define QN_EMU_VEC3(T, N) \
    struct N { T x, y, z; }; \
    inline constexpr N make_##N(T x, T y, T z) { return N{x, y, z}; }
#define QN_EMU_VEC4(T, N, A) \
    struct alignas(A) N { T x, y, z, w; }; \
    inline constexpr N make_##N(T x, T y, T z, T w) { return N{x, y, z, w}; }

QN_EMU_VEC2(signed char, char2, 2)
QN_EMU_VEC4(signed char, char4, 4)
QN_EMU_VEC2(unsigned char, uchar2, 2)
QN_EMU_VEC4(unsigned char, uchar4, 4)
QN_EMU_VEC2(short, short2, 4)
QN_EMU_VEC4(short, short4, 8)
QN_EMU_VEC2(unsigned short, ushort2, 4)
QN_EMU_VEC4(unsigned short, ushort4, 8)
QN_EMU_VEC1(int, int1, 4)
QN_EMU_VEC2(int, int2, 8)
QN_EMU_VEC3(int, int3)
QN_EMU_VEC4(int, int4, 16)
QN_EMU_VEC1(unsigned int, uint1, 4)
QN_EMU_VEC2(unsigned int, uint2, 8)
QN_EMU_VEC4(unsigned int, uint4, 16)
QN_EMU_VEC1(float, float1, 4)
QN_EMU_VEC2(float, float2, 8)
QN_EMU_VEC3(float, float3)
QN_EMU_VEC4(float, float4, 16)
QN_EMU_VEC2(long long, longlong2, 16)
QN_EMU_VEC2(unsigned long long, ulonglong2, 16)
QN_EMU_VEC2(double, double2, 16)
inline constexpr uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return uint3{x, y, z}; }

#undef QN_EMU_VEC1
#undef QN_EMU_VEC2
#undef QN_EMU_VEC3
#undef QN_EMU_VEC4

// Set by the scheduler for the running fiber (defined in libqn_emulator.so).
extern QN_EMU_API thread_local constinit uint3 threadIdx;
extern QN_EMU_API thread_local constinit uint3 blockIdx;
extern QN_EMU_API thread_local constinit dim3 blockDim;
extern QN_EMU_API thread_local constinit dim3 gridDim;
constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------------------------------
// The runtime behind the device functions (native/emulator/*.cpp)
// ---------------------------------------------------------------------------------------------------------------
namespace qn::emu
{
// Warp-collective operations: every lane named in the mask must arrive at an operation of the same kind.
enum class WarpOp : int
{
    Shuffle, Vote, Reduce, Match, SyncWarp, Mma, Ldmatrix, WmmaLoad, WmmaStore, WmmaMma,
};
// Runs once, on the last lane to arrive, with the data pointer each participating lane passed.
using WarpFn = void (*)(void* const* laneData, unsigned int mask);

QN_EMU_API void warp_collective(WarpOp op, unsigned int mask, void* data, WarpFn fn, const char* file, int line);
QN_EMU_API unsigned int active_mask(const char* file, int line);
enum class BarrierOp : int { Sync = 0, Count = 1, And = 2, Or = 3 };
QN_EMU_API int block_barrier(BarrierOp op, int predicate, const char* file, int line);
QN_EMU_API void yield_fiber();
[[noreturn]] QN_EMU_API void kernel_error(const char* message, const char* file, int line);
QN_EMU_API void* dynamic_shared_memory();
QN_EMU_API unsigned int lane_id();

// Shuffle modes as PTX shfl.sync encodes them.
enum class ShuffleMode : int { Idx = 0, Up = 1, Down = 2, Bfly = 3 };
QN_EMU_API unsigned long long shuffle(unsigned int mask, unsigned long long value, ShuffleMode mode, unsigned int b,
                                      unsigned int c, const char* file, int line);
QN_EMU_API unsigned int vote_ballot(unsigned int mask, int predicate, const char* file, int line);
enum class ReduceOp : int { AddU, MinU, MaxU, MinS, MaxS, And, Or, Xor };
QN_EMU_API unsigned int reduce(unsigned int mask, unsigned int value, ReduceOp op, const char* file, int line);
QN_EMU_API unsigned int match_any(unsigned int mask, unsigned long long value, const char* file, int line);
QN_EMU_API unsigned int match_all(unsigned int mask, unsigned long long value, int* predicate, const char* file,
                                  int line);

// PTX wrappers' host side (kernels/common/qn_cuda.h calls these).
enum class MmaType : int { F16 = 0, BF16 = 1 };
QN_EMU_API void mma_m16n8k16(float* d, const unsigned int* a, const unsigned int* b, const float* c, MmaType type,
                             const char* file, int line);
QN_EMU_API void ldmatrix(unsigned int* r, int count, bool trans, const void* rowAddress, const char* file, int line);
QN_EMU_API void cp_async(void* dst, const void* src, int cpSize, int srcSize, const char* file, int line);
QN_EMU_API void cp_async_commit();
QN_EMU_API void cp_async_wait(int pendingGroups);
// WMMA m16n16k16: the fragments' element layout (see nvcuda::wmma below), exchanged at a warp barrier.
QN_EMU_API void wmma_mma(float* d, const unsigned short* a, const unsigned short* b, const float* c, MmaType type,
                         const char* file, int line);
QN_EMU_API void wmma_sync(WarpOp op, const char* file, int line);

// Kernel registration: QN_REGISTER_KERNELS(a, b, c) in a .cu file makes the kernels launchable by name.
using KernelThunk = void (*)(void* fn, void** args);
struct KernelEntry
{
    void* fn;
    KernelThunk thunk;
    int paramCount;
    const unsigned int* paramSizes;
};
QN_EMU_API void register_kernels(const char* names, const char* file, const KernelEntry* entries, int count);
QN_EMU_API void unregister_kernels(const char* names, const KernelEntry* entries, int count);

template <typename... P, std::size_t... I>
inline void call_kernel(void (*f)(P...), void** args, std::index_sequence<I...>)
{
    f(*static_cast<std::remove_cv_t<P>*>(args[I])...);
}
template <typename... P>
void kernel_thunk(void* fn, void** args)
{
    call_kernel(reinterpret_cast<void (*)(P...)>(fn), args, std::index_sequence_for<P...>{});
}
template <typename... P>
struct ParamSizes
{
    static constexpr unsigned int value[sizeof...(P) + 1] = {static_cast<unsigned int>(sizeof(P))..., 0u};
};
template <typename... P>
KernelEntry make_kernel_entry(void (*f)(P...))
{
    return KernelEntry{reinterpret_cast<void*>(f), &kernel_thunk<P...>, static_cast<int>(sizeof...(P)),
                       ParamSizes<P...>::value};
}
template <int N>
class KernelRegistrar
{
public:
    template <typename... F>
    KernelRegistrar(const char* names, const char* file, F... fns) : names_(names), entries_{make_kernel_entry(fns)...}
    {
        register_kernels(names, file, entries_, N);
    }
    ~KernelRegistrar() { unregister_kernels(names_, entries_, N); }
    KernelRegistrar(const KernelRegistrar&) = delete;
    KernelRegistrar& operator=(const KernelRegistrar&) = delete;

private:
    const char* names_;
    KernelEntry entries_[N];
};
template <typename... F>
constexpr int count_of(F...) { return static_cast<int>(sizeof...(F)); }
} // namespace qn::emu

#define QN_EMU_CONCAT_(a, b) a##b
#define QN_EMU_CONCAT(a, b) QN_EMU_CONCAT_(a, b)
#define QN_EMU_REGISTER_KERNELS(...) \
    namespace { \
    ::qn::emu::KernelRegistrar<::qn::emu::count_of(__VA_ARGS__)> QN_EMU_CONCAT(qn_emu_registrar_, __COUNTER__)( \
        #__VA_ARGS__, __FILE__, __VA_ARGS__); \
    }

// ---------------------------------------------------------------------------------------------------------------
// Synchronization, fences, timing, errors
// ---------------------------------------------------------------------------------------------------------------
#define QN_EMU_SITE const char *qn_file = __builtin_FILE(), int qn_line = __builtin_LINE()

inline void __syncthreads(QN_EMU_SITE) { ::qn::emu::block_barrier(::qn::emu::BarrierOp::Sync, 0, qn_file, qn_line); }
inline int __syncthreads_count(int p, QN_EMU_SITE) { return ::qn::emu::block_barrier(::qn::emu::BarrierOp::Count, p, qn_file, qn_line); }
inline int __syncthreads_and(int p, QN_EMU_SITE) { return ::qn::emu::block_barrier(::qn::emu::BarrierOp::And, p, qn_file, qn_line); }
inline int __syncthreads_or(int p, QN_EMU_SITE) { return ::qn::emu::block_barrier(::qn::emu::BarrierOp::Or, p, qn_file, qn_line); }
inline void __syncwarp(unsigned int mask = 0xffffffffu, QN_EMU_SITE)
{
    ::qn::emu::warp_collective(::qn::emu::WarpOp::SyncWarp, mask, nullptr, nullptr, qn_file, qn_line);
}
inline unsigned int __activemask(QN_EMU_SITE) { return ::qn::emu::active_mask(qn_file, qn_line); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __nanosleep(unsigned int) { ::qn::emu::yield_fiber(); }
[[noreturn]] inline void __trap(QN_EMU_SITE) { ::qn::emu::kernel_error("__trap()", qn_file, qn_line); }
[[noreturn]] inline void __brkpt(QN_EMU_SITE) { ::qn::emu::kernel_error("__brkpt()", qn_file, qn_line); }
inline long long int clock64()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// A failed assert() in a kernel fails the launch (as a device-side assert does) instead of aborting the process.
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : ::qn::emu::kernel_error("assertion failed: " #e, __FILE__, __LINE__))
#endif

// ---------------------------------------------------------------------------------------------------------------
// Warp shuffles, votes, reductions
// ---------------------------------------------------------------------------------------------------------------
namespace qn::emu
{
template <typename T>
inline unsigned long long to_bits(T v)
{
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffled values are at most 8 bytes");
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return bits;
}
template <typename T>
inline T from_bits(unsigned long long bits)
{
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}
// The c operand of shfl.sync that CUDA's __shfl_*_sync pass: segment mask in bits 8..12, clamp in bits 0..4.
inline unsigned int shuffle_c(int width, bool up) { return (static_cast<unsigned int>(32 - width) << 8) | (up ? 0u : 0x1fu); }
} // namespace qn::emu

template <typename T>
inline T __shfl_sync(unsigned int mask, T var, int srcLane, int width = warpSize, QN_EMU_SITE)
{
    return ::qn::emu::from_bits<T>(::qn::emu::shuffle(mask, ::qn::emu::to_bits(var), ::qn::emu::ShuffleMode::Idx,
                                                      static_cast<unsigned int>(srcLane),
                                                      ::qn::emu::shuffle_c(width, false), qn_file, qn_line));
}
template <typename T>
inline T __shfl_up_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize, QN_EMU_SITE)
{
    return ::qn::emu::from_bits<T>(::qn::emu::shuffle(mask, ::qn::emu::to_bits(var), ::qn::emu::ShuffleMode::Up,
                                                      delta, ::qn::emu::shuffle_c(width, true), qn_file, qn_line));
}
template <typename T>
inline T __shfl_down_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize, QN_EMU_SITE)
{
    return ::qn::emu::from_bits<T>(::qn::emu::shuffle(mask, ::qn::emu::to_bits(var), ::qn::emu::ShuffleMode::Down,
                                                      delta, ::qn::emu::shuffle_c(width, false), qn_file, qn_line));
}
template <typename T>
inline T __shfl_xor_sync(unsigned int mask, T var, int laneMask, int width = warpSize, QN_EMU_SITE)
{
    return ::qn::emu::from_bits<T>(::qn::emu::shuffle(mask, ::qn::emu::to_bits(var), ::qn::emu::ShuffleMode::Bfly,
                                                      static_cast<unsigned int>(laneMask),
                                                      ::qn::emu::shuffle_c(width, false), qn_file, qn_line));
}
inline unsigned int __ballot_sync(unsigned int mask, int predicate, QN_EMU_SITE)
{
    return ::qn::emu::vote_ballot(mask, predicate, qn_file, qn_line);
}
inline int __any_sync(unsigned int mask, int predicate, QN_EMU_SITE)
{
    return ::qn::emu::vote_ballot(mask, predicate, qn_file, qn_line) != 0;
}
inline int __all_sync(unsigned int mask, int predicate, QN_EMU_SITE)
{
    return ::qn::emu::vote_ballot(mask, predicate, qn_file, qn_line) == mask;
}
inline int __uni_sync(unsigned int mask, int predicate, QN_EMU_SITE)
{
    unsigned int b = ::qn::emu::vote_ballot(mask, predicate, qn_file, qn_line);
    return b == 0 || b == mask;
}
inline unsigned int __reduce_add_sync(unsigned int mask, unsigned int v, QN_EMU_SITE) { return ::qn::emu::reduce(mask, v, ::qn::emu::ReduceOp::AddU, qn_file, qn_line); }
inline int __reduce_add_sync(unsigned int mask, int v, QN_EMU_SITE) { return static_cast<int>(::qn::emu::reduce(mask, static_cast<unsigned int>(v), ::qn::emu::ReduceOp::AddU, qn_file, qn_line)); }
inline unsigned int __reduce_min_sync(unsigned int mask, unsigned int v, QN_EMU_SITE) { return ::qn::emu::reduce(mask, v, ::qn::emu::ReduceOp::MinU, qn_file, qn_line); }
inline int __reduce_min_sync(unsigned int mask, int v, QN_EMU_SITE) { return static_cast<int>(::qn::emu::reduce(mask, static_cast<unsigned int>(v), ::qn::emu::ReduceOp::MinS, qn_file, qn_line)); }
inline unsigned int __reduce_max_sync(unsigned int mask, unsigned int v, QN_EMU_SITE) { return ::qn::emu::reduce(mask, v, ::qn::emu::ReduceOp::MaxU, qn_file, qn_line); }
inline int __reduce_max_sync(unsigned int mask, int v, QN_EMU_SITE) { return static_cast<int>(::qn::emu::reduce(mask, static_cast<unsigned int>(v), ::qn::emu::ReduceOp::MaxS, qn_file, qn_line)); }
inline unsigned int __reduce_and_sync(unsigned int mask, unsigned int v, QN_EMU_SITE) { return ::qn::emu::reduce(mask, v, ::qn::emu::ReduceOp::And, qn_file, qn_line); }
inline unsigned int __reduce_or_sync(unsigned int mask, unsigned int v, QN_EMU_SITE) { return ::qn::emu::reduce(mask, v, ::qn::emu::ReduceOp::Or, qn_file, qn_line); }
inline unsigned int __reduce_xor_sync(unsigned int mask, unsigned int v, QN_EMU_SITE) { return ::qn::emu::reduce(mask, v, ::qn::emu::ReduceOp::Xor, qn_file, qn_line); }
template <typename T>
inline unsigned int __match_any_sync(unsigned int mask, T value, QN_EMU_SITE)
{
    return ::qn::emu::match_any(mask, ::qn::emu::to_bits(value), qn_file, qn_line);
}
template <typename T>
inline unsigned int __match_all_sync(unsigned int mask, T value, int* pred, QN_EMU_SITE)
{
    return ::qn::emu::match_all(mask, ::qn::emu::to_bits(value), pred, qn_file, qn_line);
}

// ---------------------------------------------------------------------------------------------------------------
// Atomics (relaxed, as CUDA's; correct across host threads running blocks in parallel)
// ---------------------------------------------------------------------------------------------------------------
namespace qn::emu
{
template <typename T, typename F>
inline T atomic_update(T* address, F f)
{
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "4- or 8-byte atomics");
    using Bits = std::conditional_t<sizeof(T) == 4, unsigned int, unsigned long long>;
    Bits* p = reinterpret_cast<Bits*>(address);
    Bits old = __atomic_load_n(p, __ATOMIC_RELAXED);
    for (;;)
    {
        T oldValue = from_bits<T>(old);
        Bits desired = static_cast<Bits>(to_bits(f(oldValue)));
        if (__atomic_compare_exchange_n(p, &old, desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return oldValue;
    }
}
} // namespace qn::emu

#define QN_EMU_ATOMIC_INT(T) \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); } \
    inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); } \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); } \
    inline T atomicMin(T* a, T v) { return ::qn::emu::atomic_update(a, [v](T o) { return v < o ? v : o; }); } \
    inline T atomicMax(T* a, T v) { return ::qn::emu::atomic_update(a, [v](T o) { return v > o ? v : o; }); } \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); } \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); } \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); } \
    inline T atomicCAS(T* a, T compare, T v) \
    { \
        __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED); \
        return compare; \
    }
QN_EMU_ATOMIC_INT(int)
QN_EMU_ATOMIC_INT(unsigned int)
QN_EMU_ATOMIC_INT(unsigned long long int)
#undef QN_EMU_ATOMIC_INT
inline long long int atomicMin(long long int* a, long long int v) { return ::qn::emu::atomic_update(a, [v](long long o) { return v < o ? v : o; }); }
inline long long int atomicMax(long long int* a, long long int v) { return ::qn::emu::atomic_update(a, [v](long long o) { return v > o ? v : o; }); }
inline unsigned short int atomicCAS(unsigned short int* a, unsigned short int compare, unsigned short int v)
{
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
inline float atomicAdd(float* a, float v) { return ::qn::emu::atomic_update(a, [v](float o) { return o + v; }); }
inline double atomicAdd(double* a, double v) { return ::qn::emu::atomic_update(a, [v](double o) { return o + v; }); }
inline float atomicExch(float* a, float v) { return __builtin_bit_cast(float, __atomic_exchange_n(reinterpret_cast<unsigned int*>(a), __builtin_bit_cast(unsigned int, v), __ATOMIC_RELAXED)); }
// atomicInc/atomicDec wrap as CUDA defines them: inc: old >= limit ? 0 : old + 1; dec: old == 0 || old > limit ? limit : old - 1.
inline unsigned int atomicInc(unsigned int* a, unsigned int limit) { return ::qn::emu::atomic_update(a, [limit](unsigned int o) { return o >= limit ? 0u : o + 1u; }); }
inline unsigned int atomicDec(unsigned int* a, unsigned int limit) { return ::qn::emu::atomic_update(a, [limit](unsigned int o) { return (o == 0u || o > limit) ? limit : o - 1u; }); }
#define QN_EMU_ATOMIC_SCOPES(name) \
    template <typename... A> inline auto name##_block(A... a) { return name(a...); } \
    template <typename... A> inline auto name##_system(A... a) { return name(a...); }
QN_EMU_ATOMIC_SCOPES(atomicAdd)
QN_EMU_ATOMIC_SCOPES(atomicMax)
QN_EMU_ATOMIC_SCOPES(atomicMin)
QN_EMU_ATOMIC_SCOPES(atomicCAS)
QN_EMU_ATOMIC_SCOPES(atomicExch)
#undef QN_EMU_ATOMIC_SCOPES

// ---------------------------------------------------------------------------------------------------------------
// Math and bit intrinsics
// ---------------------------------------------------------------------------------------------------------------
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int min(int a, unsigned int b) { return min(static_cast<unsigned int>(a), b); }
inline unsigned int min(unsigned int a, int b) { return min(a, static_cast<unsigned int>(b)); }
inline long long int min(long long int a, long long int b) { return a < b ? a : b; }
inline unsigned long long int min(unsigned long long int a, unsigned long long int b) { return a < b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline unsigned int max(int a, unsigned int b) { return max(static_cast<unsigned int>(a), b); }
inline unsigned int max(unsigned int a, int b) { return max(a, static_cast<unsigned int>(b)); }
inline long long int max(long long int a, long long int b) { return a > b ? a : b; }
inline unsigned long long int max(unsigned long long int a, unsigned long long int b) { return a > b ? a : b; }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); } // NaN -> 0
// The fast-math intrinsics: computed exactly here; on a GPU they are approximations (see the header comment).
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
// IEEE round-to-nearest-even operations (the host's default rounding mode).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __frsqrt_rn(float a) { return 1.0f / sqrtf(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }

inline float __int_as_float(int x) { return __builtin_bit_cast(float, x); }
inline int __float_as_int(float x) { return __builtin_bit_cast(int, x); }
inline float __uint_as_float(unsigned int x) { return __builtin_bit_cast(float, x); }
inline unsigned int __float_as_uint(float x) { return __builtin_bit_cast(unsigned int, x); }
inline double __longlong_as_double(long long int x) { return __builtin_bit_cast(double, x); }
inline long long int __double_as_longlong(double x) { return __builtin_bit_cast(long long int, x); }

namespace qn::emu
{
// cvt.rni/rzi/rmi/rpi.s32.f32 and friends: NaN -> 0, out of range saturates.
template <typename I>
inline I saturate_to(double r)
{
    if (r != r) return 0;
    if (r <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
    if (r >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
    return static_cast<I>(r);
}
} // namespace qn::emu
inline int __float2int_rn(float x) { return ::qn::emu::saturate_to<int>(rint(static_cast<double>(x))); }
inline int __float2int_rz(float x) { return ::qn::emu::saturate_to<int>(trunc(static_cast<double>(x))); }
inline int __float2int_rd(float x) { return ::qn::emu::saturate_to<int>(floor(static_cast<double>(x))); }
inline int __float2int_ru(float x) { return ::qn::emu::saturate_to<int>(ceil(static_cast<double>(x))); }
inline unsigned int __float2uint_rn(float x) { return ::qn::emu::saturate_to<unsigned int>(rint(static_cast<double>(x))); }
inline unsigned int __float2uint_rz(float x) { return ::qn::emu::saturate_to<unsigned int>(trunc(static_cast<double>(x))); }
inline long long int __float2ll_rn(float x) { return ::qn::emu::saturate_to<long long int>(rint(static_cast<double>(x))); }
inline long long int __float2ll_rz(float x) { return ::qn::emu::saturate_to<long long int>(trunc(static_cast<double>(x))); }
inline int __double2int_rn(double x) { return ::qn::emu::saturate_to<int>(rint(x)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned int x) { return static_cast<float>(x); }
inline float __ll2float_rn(long long int x) { return static_cast<float>(x); }
inline float __double2float_rn(double x) { return static_cast<float>(x); }

inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long int x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned int>(x)); }
inline int __clzll(long long int x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long int x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}
inline unsigned long long int __brevll(unsigned long long int x)
{
    return (static_cast<unsigned long long>(__brev(static_cast<unsigned int>(x))) << 32) | __brev(static_cast<unsigned int>(x >> 32));
}
// prmt.b32 default mode: result byte i = byte (s >> 4i) & 7 of the 8-byte value {y, x}.
inline unsigned int __byte_perm(unsigned int x, unsigned int y, unsigned int s)
{
    unsigned long long v = (static_cast<unsigned long long>(y) << 32) | x;
    unsigned int r = 0;
    for (int i = 0; i < 4; ++i) r |= static_cast<unsigned int>((v >> (8 * ((s >> (4 * i)) & 7u))) & 0xffu) << (8 * i);
    return r;
}
inline unsigned int __funnelshift_l(unsigned int lo, unsigned int hi, unsigned int shift)
{
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>((v << (shift & 31u)) >> 32);
}
inline unsigned int __funnelshift_lc(unsigned int lo, unsigned int hi, unsigned int shift)
{
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>((v << (shift < 32u ? shift : 32u)) >> 32);
}
inline unsigned int __funnelshift_r(unsigned int lo, unsigned int hi, unsigned int shift)
{
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>(v >> (shift & 31u));
}
inline unsigned int __funnelshift_rc(unsigned int lo, unsigned int hi, unsigned int shift)
{
    unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
    return static_cast<unsigned int>(v >> (shift < 32u ? shift : 32u));
}
inline unsigned int __umulhi(unsigned int a, unsigned int b) { return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32); }
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned long long int __umul64hi(unsigned long long int a, unsigned long long int b) { return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64); }
inline long long int __mul64hi(long long int a, long long int b) { return static_cast<long long>((static_cast<__int128>(a) * b) >> 64); }
inline int __mul24(int a, int b) { return static_cast<int>(static_cast<unsigned int>((a << 8) >> 8) * static_cast<unsigned int>((b << 8) >> 8)); }
inline unsigned int __umul24(unsigned int a, unsigned int b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline int __hadd(int a, int b) { return static_cast<int>((static_cast<long long>(a) + b) >> 1); }
inline int __rhadd(int a, int b) { return static_cast<int>((static_cast<long long>(a) + b + 1) >> 1); }
inline unsigned int __uhadd(unsigned int a, unsigned int b) { return static_cast<unsigned int>((static_cast<unsigned long long>(a) + b) >> 1); }
inline unsigned int __urhadd(unsigned int a, unsigned int b) { return static_cast<unsigned int>((static_cast<unsigned long long>(a) + b + 1) >> 1); }
inline unsigned int __sad(int x, int y, unsigned int z) { return z + static_cast<unsigned int>(x > y ? static_cast<long long>(x) - y : static_cast<long long>(y) - x); }
inline unsigned int __usad(unsigned int x, unsigned int y, unsigned int z) { return z + (x > y ? x - y : y - x); }

// Cache-hinted loads and stores are plain memory accesses.
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
template <typename T> inline T __ldca(const T* p) { return *p; }
template <typename T> inline T __ldcs(const T* p) { return *p; }
template <typename T> inline T __ldlu(const T* p) { return *p; }
template <typename T> inline T __ldcv(const T* p) { return *p; }
template <typename T> inline void __stwb(T* p, T v) { *p = v; }
template <typename T> inline void __stcg(T* p, T v) { *p = v; }
template <typename T> inline void __stcs(T* p, T v) { *p = v; }
template <typename T> inline void __stwt(T* p, T v) { *p = v; }

// ---------------------------------------------------------------------------------------------------------------
// __half and __nv_bfloat16 (the subset of cuda_fp16.h / cuda_bf16.h that device code uses)
// ---------------------------------------------------------------------------------------------------------------
namespace qn::emu
{
// float -> binary16, round to nearest even (cvt.rn.f16.f32): subnormals, overflow to inf, NaN -> 0x7fff.
inline unsigned short float_to_half_rn(float f)
{
    unsigned int x = __builtin_bit_cast(unsigned int, f);
    unsigned int sign = (x >> 16) & 0x8000u;
    unsigned int u = x & 0x7fffffffu;
    if (u > 0x7f800000u) return 0x7fffu;                          // NaN: canonical
    if (u >= 0x477ff000u) return static_cast<unsigned short>(sign | 0x7c00u); // >= 65520 (and inf) -> inf
    if (u >= 0x38800000u)                                          // normal half: exponent >= -14
    {
        unsigned int r = (u - 0x38000000u) >> 13;                  // rebias 127 -> 15, drop 13 bits
        unsigned int rest = u & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;  // may carry into the exponent (correct)
        return static_cast<unsigned short>(sign | r);
    }
    if (u < 0x33000000u) return static_cast<unsigned short>(sign); // < 2^-25 (half of the smallest subnormal)
    unsigned int e = u >> 23;                                      // 102..112
    unsigned int m = (u & 0x7fffffu) | 0x800000u;
    unsigned int shift = 126u - e;                                 // 14..24: value = m * 2^(e-150), ulp 2^-24
    unsigned int r = m >> shift;
    unsigned int rest = m & ((1u << shift) - 1u);
    unsigned int halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (r & 1u))) ++r;
    return static_cast<unsigned short>(sign | r);
}
// float -> binary16, round toward zero (cvt.rz.f16.f32).
inline unsigned short float_to_half_rz(float f)
{
    unsigned int x = __builtin_bit_cast(unsigned int, f);
    unsigned int sign = (x >> 16) & 0x8000u;
    unsigned int u = x & 0x7fffffffu;
    if (u > 0x7f800000u) return 0x7fffu;
    if (u == 0x7f800000u) return static_cast<unsigned short>(sign | 0x7c00u);
    if (u >= 0x47800000u) return static_cast<unsigned short>(sign | 0x7bffu); // >= 65536 -> max finite
    if (u >= 0x38800000u) return static_cast<unsigned short>(sign | ((u - 0x38000000u) >> 13));
    if (u < 0x33800000u) return static_cast<unsigned short>(sign);
    unsigned int e = u >> 23;
    unsigned int m = (u & 0x7fffffu) | 0x800000u;
    return static_cast<unsigned short>(sign | (m >> (126u - e)));
}
// binary16 -> float: exact; NaN -> canonical 0x7fffffff (as cuda_fp16.h's conversion).
inline float half_to_float(unsigned short h)
{
    unsigned int sign = static_cast<unsigned int>(h & 0x8000u) << 16;
    unsigned int e = (h >> 10) & 0x1fu;
    unsigned int m = h & 0x3ffu;
    unsigned int bits;
    if (e == 0x1fu) bits = m ? 0x7fffffffu : (sign | 0x7f800000u);
    else if (e != 0) bits = sign | ((e + 112u) << 23) | (m << 13);
    else if (m == 0) bits = sign;
    else
    {
        int shift = __builtin_clz(m) - 21;                         // normalize the subnormal
        bits = sign | (static_cast<unsigned int>(113 - shift) << 23) | (((m << shift) & 0x3ffu) << 13);
    }
    return __builtin_bit_cast(float, bits);
}
// float -> bfloat16, round to nearest even (cvt.rn.bf16.f32); NaN -> 0x7fff.
inline unsigned short float_to_bf16_rn(float f)
{
    unsigned int x = __builtin_bit_cast(unsigned int, f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
    unsigned int r = x >> 16;
    unsigned int rest = x & 0xffffu;
    if (rest > 0x8000u || (rest == 0x8000u && (r & 1u))) ++r;
    return static_cast<unsigned short>(r);
}
inline unsigned short float_to_bf16_rz(float f)
{
    unsigned int x = __builtin_bit_cast(unsigned int, f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;
    return static_cast<unsigned short>(x >> 16);
}
inline float bf16_to_float(unsigned short b) { return __builtin_bit_cast(float, static_cast<unsigned int>(b) << 16); }

// a*b + c exactly, rounded once to a format with `precision` significand bits and minimum normal exponent `emin`
// (binary16: 11, -14; bfloat16: 8, -126), returned as a double holding the rounded value (or inf).
QN_EMU_API double fma_round(double a, double b, double c, int precision, int emin, int emax);
inline unsigned short double_to_half_rn(double d);
} // namespace qn::emu

struct __half_raw { unsigned short x; };
struct __nv_bfloat16_raw { unsigned short x; };

struct __half
{
    unsigned short __x;
    __half() = default;
    constexpr __half(__half_raw r) : __x(r.x) {}
    __half(float f) : __x(::qn::emu::float_to_half_rn(f)) {}
    __half(double d) : __x(::qn::emu::double_to_half_rn(d)) {}
    __half(int i) : __x(::qn::emu::double_to_half_rn(static_cast<double>(i))) {}
    __half(unsigned int i) : __x(::qn::emu::double_to_half_rn(static_cast<double>(i))) {}
    operator float() const { return ::qn::emu::half_to_float(__x); }
    constexpr operator __half_raw() const { return __half_raw{__x}; }
};
struct alignas(4) __half2
{
    __half x, y;
    __half2() = default;
    constexpr __half2(__half a, __half b) : x(a), y(b) {}
};
struct __nv_bfloat16
{
    unsigned short __x;
    __nv_bfloat16() = default;
    constexpr __nv_bfloat16(__nv_bfloat16_raw r) : __x(r.x) {}
    __nv_bfloat16(float f) : __x(::qn::emu::float_to_bf16_rn(f)) {}
    operator float() const { return ::qn::emu::bf16_to_float(__x); }
    constexpr operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
};
struct alignas(4) __nv_bfloat162
{
    __nv_bfloat16 x, y;
    __nv_bfloat162() = default;
    constexpr __nv_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) : x(a), y(b) {}
};
using half = __half;
using half2 = __half2;
using nv_bfloat16 = __nv_bfloat16;
using nv_bfloat162 = __nv_bfloat162;

namespace qn::emu
{
inline unsigned short double_to_half_rn(double d)
{
    // Exact single rounding: fma_round(d, 1, -0) rounds the double once to binary16. The addend is −0 so that a
    // zero keeps its sign (−0 + +0 would be +0; x + −0 is x for every other x).
    double r = fma_round(d, 1.0, -0.0, 11, -14, 15);
    return float_to_half_rn(static_cast<float>(r)); // r is representable in binary16, so this is exact
}
inline __half make_half(unsigned short bits) { return __half(__half_raw{bits}); }
inline __nv_bfloat16 make_bf16(unsigned short bits) { return __nv_bfloat16(__nv_bfloat16_raw{bits}); }
} // namespace qn::emu

inline __half __float2half(float f) { return ::qn::emu::make_half(::qn::emu::float_to_half_rn(f)); }
inline __half __float2half_rn(float f) { return ::qn::emu::make_half(::qn::emu::float_to_half_rn(f)); }
inline __half __float2half_rz(float f) { return ::qn::emu::make_half(::qn::emu::float_to_half_rz(f)); }
inline __half __double2half(double d) { return ::qn::emu::make_half(::qn::emu::double_to_half_rn(d)); }
inline float __half2float(__half h) { return ::qn::emu::half_to_float(h.__x); }
inline __half2 __float2half2_rn(float f) { return __half2(__float2half_rn(f), __float2half_rn(f)); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2(__float2half_rn(a), __float2half_rn(b)); }
inline __half2 __float22half2_rn(float2 f) { return __half2(__float2half_rn(f.x), __float2half_rn(f.y)); }
inline float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
inline __half2 __half2half2(__half a) { return __half2(a, a); }
inline __half2 __lows2half2(__half2 a, __half2 b) { return __half2(a.x, b.x); }
inline __half2 __highs2half2(__half2 a, __half2 b) { return __half2(a.y, b.y); }
inline __half2 __lowhigh2highlow(__half2 a) { return __half2(a.y, a.x); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __ushort_as_half(unsigned short u) { return ::qn::emu::make_half(u); }
inline __half __short_as_half(short s) { return ::qn::emu::make_half(static_cast<unsigned short>(s)); }
inline __half __int2half_rn(int i) { return ::qn::emu::make_half(::qn::emu::double_to_half_rn(static_cast<double>(i))); }
inline __half __uint2half_rn(unsigned int i) { return ::qn::emu::make_half(::qn::emu::double_to_half_rn(static_cast<double>(i))); }
inline int __half2int_rn(__half h) { return __float2int_rn(__half2float(h)); }
inline int __half2int_rz(__half h) { return __float2int_rz(__half2float(h)); }
inline bool __hisnan(__half h) { return (h.__x & 0x7fffu) > 0x7c00u; }
inline int __hisinf(__half h) { return (h.__x & 0x7fffu) == 0x7c00u ? ((h.__x & 0x8000u) ? -1 : 1) : 0; }

// Half arithmetic: add/sub/mul/div of two binary16 values are exact in float before the one rounding (float has
// more than 2*11+2 bits, so the double rounding is innocuous); fma rounds the exact result once.
inline __half __hadd(__half a, __half b) { return __float2half_rn(__half2float(a) + __half2float(b)); }
inline __half __hsub(__half a, __half b) { return __float2half_rn(__half2float(a) - __half2float(b)); }
inline __half __hmul(__half a, __half b) { return __float2half_rn(__half2float(a) * __half2float(b)); }
inline __half __hdiv(__half a, __half b) { return __float2half_rn(__half2float(a) / __half2float(b)); }
inline __half __hfma(__half a, __half b, __half c)
{
    return __double2half(::qn::emu::fma_round(__half2float(a), __half2float(b), __half2float(c), 11, -14, 15));
}
inline __half __hneg(__half a) { return ::qn::emu::make_half(static_cast<unsigned short>(a.__x ^ 0x8000u)); }
inline __half __habs(__half a) { return ::qn::emu::make_half(static_cast<unsigned short>(a.__x & 0x7fffu)); }
inline __half __hmax(__half a, __half b) { return __float2half_rn(fmaxf(__half2float(a), __half2float(b))); }
inline __half __hmin(__half a, __half b) { return __float2half_rn(fminf(__half2float(a), __half2float(b))); }
inline bool __heq(__half a, __half b) { return __half2float(a) == __half2float(b); }
inline bool __hne(__half a, __half b) { return __half2float(a) != __half2float(b) && !__hisnan(a) && !__hisnan(b); }
inline bool __hlt(__half a, __half b) { return __half2float(a) < __half2float(b); }
inline bool __hle(__half a, __half b) { return __half2float(a) <= __half2float(b); }
inline bool __hgt(__half a, __half b) { return __half2float(a) > __half2float(b); }
inline bool __hge(__half a, __half b) { return __half2float(a) >= __half2float(b); }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
inline __half2 __hsub2(__half2 a, __half2 b) { return __half2(__hsub(a.x, b.x), __hsub(a.y, b.y)); }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
inline __half2 __h2div(__half2 a, __half2 b) { return __half2(__hdiv(a.x, b.x), __hdiv(a.y, b.y)); }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) { return __half2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)); }
inline __half2 __hneg2(__half2 a) { return __half2(__hneg(a.x), __hneg(a.y)); }
inline __half2 __habs2(__half2 a) { return __half2(__habs(a.x), __habs(a.y)); }
inline __half2 __hmax2(__half2 a, __half2 b) { return __half2(__hmax(a.x, b.x), __hmax(a.y, b.y)); }
inline __half2 __hmin2(__half2 a, __half2 b) { return __half2(__hmin(a.x, b.x), __hmin(a.y, b.y)); }
inline __half operator+(const __half& a, const __half& b) { return __hadd(a, b); }
inline __half operator-(const __half& a, const __half& b) { return __hsub(a, b); }
inline __half operator*(const __half& a, const __half& b) { return __hmul(a, b); }
inline __half operator/(const __half& a, const __half& b) { return __hdiv(a, b); }
inline __half operator-(const __half& a) { return __hneg(a); }
inline __half& operator+=(__half& a, const __half& b) { return a = __hadd(a, b); }
inline __half& operator*=(__half& a, const __half& b) { return a = __hmul(a, b); }
inline __half2 operator+(const __half2& a, const __half2& b) { return __hadd2(a, b); }
inline __half2 operator-(const __half2& a, const __half2& b) { return __hsub2(a, b); }
inline __half2 operator*(const __half2& a, const __half2& b) { return __hmul2(a, b); }

inline __nv_bfloat16 __float2bfloat16(float f) { return ::qn::emu::make_bf16(::qn::emu::float_to_bf16_rn(f)); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return ::qn::emu::make_bf16(::qn::emu::float_to_bf16_rn(f)); }
inline __nv_bfloat16 __float2bfloat16_rz(float f) { return ::qn::emu::make_bf16(::qn::emu::float_to_bf16_rz(f)); }
inline float __bfloat162float(__nv_bfloat16 b) { return ::qn::emu::bf16_to_float(b.__x); }
inline __nv_bfloat162 __float2bfloat162_rn(float f) { return __nv_bfloat162(__float2bfloat16_rn(f), __float2bfloat16_rn(f)); }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return __nv_bfloat162(__float2bfloat16_rn(a), __float2bfloat16_rn(b)); }
inline __nv_bfloat162 __float22bfloat162_rn(float2 f) { return __nv_bfloat162(__float2bfloat16_rn(f.x), __float2bfloat16_rn(f.y)); }
inline float2 __bfloat1622float2(__nv_bfloat162 b) { return make_float2(__bfloat162float(b.x), __bfloat162float(b.y)); }
inline float __low2float(__nv_bfloat162 b) { return __bfloat162float(b.x); }
inline float __high2float(__nv_bfloat162 b) { return __bfloat162float(b.y); }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat162(a, b); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return ::qn::emu::make_bf16(u); }
inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16_rn(__bfloat162float(a) + __bfloat162float(b)); }
inline __nv_bfloat16 __hsub(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16_rn(__bfloat162float(a) - __bfloat162float(b)); }
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) { return __float2bfloat16_rn(__bfloat162float(a) * __bfloat162float(b)); }
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c)
{
    return __float2bfloat16_rn(static_cast<float>(::qn::emu::fma_round(__bfloat162float(a), __bfloat162float(b), __bfloat162float(c), 8, -126, 127)));
}

// ---------------------------------------------------------------------------------------------------------------
// WMMA (nvcuda::wmma), shape m16n16k16, half or bfloat16 inputs, float accumulator.
// CUDA leaves the fragment element layout unspecified; here lane l = 4g + t (g = l/4, t = l%4) holds, for
// element i in 0..7 (j = i/4 picks the 8-wide half of N for B and C):
//   matrix_a (16x16, M x K): row g + 8*((i/2)%2), col 2t + i%2 + 8*(i/4)      (the mma.m16n8k16 A fragment)
//   matrix_b (16x16, K x N): row 2t + i%2 + 8*((i/2)%2), col g + 8*(i/4)      (two m16n8k16 B fragments)
//   accumulator (16x16):     row g + 8*((i/2)%2), col 2t + i%2 + 8*(i/4)      (two m16n8k16 C fragments)
// load/store are warp-synchronous: each lane reads or writes its own elements, then the warp meets at a barrier;
// mma_sync gathers the whole warp's fragments at a warp barrier.
// ---------------------------------------------------------------------------------------------------------------
namespace nvcuda::wmma
{
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment
{
    static_assert(M == 16 && N == 16 && K == 16, "the emulator implements WMMA shape m16n16k16 only");
};
template <typename T, typename Layout>
class fragment<matrix_a, 16, 16, 16, T, Layout>
{
    static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>, "matrix_a holds half or bfloat16");
    static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>, "matrix_a needs a layout");
public:
    static constexpr int num_elements = 8;
    T x[8];
};
template <typename T, typename Layout>
class fragment<matrix_b, 16, 16, 16, T, Layout>
{
    static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>, "matrix_b holds half or bfloat16");
    static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>, "matrix_b needs a layout");
public:
    static constexpr int num_elements = 8;
    T x[8];
};
template <typename T>
class fragment<accumulator, 16, 16, 16, T, void>
{
    static_assert(std::is_same_v<T, float>, "the emulator implements float accumulators only");
public:
    static constexpr int num_elements = 8;
    T x[8];
};

namespace detail
{
inline void a_coord(unsigned int lane, int i, int& row, int& col)
{
    row = static_cast<int>(lane / 4) + 8 * ((i / 2) % 2);
    col = static_cast<int>(lane % 4) * 2 + i % 2 + 8 * (i / 4);
}
inline void b_coord(unsigned int lane, int i, int& row, int& col)
{
    row = static_cast<int>(lane % 4) * 2 + i % 2 + 8 * ((i / 2) % 2);
    col = static_cast<int>(lane / 4) + 8 * (i / 4);
}
template <typename T>
inline unsigned short bits_of(T v) { return __builtin_bit_cast(unsigned short, v); }
} // namespace detail

template <typename Use, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned int ldm, QN_EMU_SITE)
{
    static_assert(!std::is_same_v<Use, accumulator>, "accumulator loads take a layout_t");
    const unsigned int lane = ::qn::emu::lane_id();
    for (int i = 0; i < 8; ++i)
    {
        int r, c;
        if constexpr (std::is_same_v<Use, matrix_a>) detail::a_coord(lane, i, r, c);
        else detail::b_coord(lane, i, r, c);
        f.x[i] = std::is_same_v<Layout, row_major> ? p[static_cast<unsigned int>(r) * ldm + static_cast<unsigned int>(c)]
                                                   : p[static_cast<unsigned int>(c) * ldm + static_cast<unsigned int>(r)];
    }
    ::qn::emu::wmma_sync(::qn::emu::WarpOp::WmmaLoad, qn_file, qn_line);
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned int ldm,
                             layout_t layout, QN_EMU_SITE)
{
    const unsigned int lane = ::qn::emu::lane_id();
    for (int i = 0; i < 8; ++i)
    {
        int r, c;
        detail::a_coord(lane, i, r, c);
        f.x[i] = layout == mem_row_major ? p[static_cast<unsigned int>(r) * ldm + static_cast<unsigned int>(c)]
                                         : p[static_cast<unsigned int>(c) * ldm + static_cast<unsigned int>(r)];
    }
    ::qn::emu::wmma_sync(::qn::emu::WarpOp::WmmaLoad, qn_file, qn_line);
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned int ldm,
                              layout_t layout, QN_EMU_SITE)
{
    const unsigned int lane = ::qn::emu::lane_id();
    for (int i = 0; i < 8; ++i)
    {
        int r, c;
        detail::a_coord(lane, i, r, c);
        (layout == mem_row_major ? p[static_cast<unsigned int>(r) * ldm + static_cast<unsigned int>(c)]
                                 : p[static_cast<unsigned int>(c) * ldm + static_cast<unsigned int>(r)]) = f.x[i];
    }
    ::qn::emu::wmma_sync(::qn::emu::WarpOp::WmmaStore, qn_file, qn_line);
}
template <typename Use, typename T, typename Layout>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, const T& v)
{
    for (int i = 0; i < 8; ++i) f.x[i] = v;
}
template <typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, T, LB>& b, const fragment<accumulator, 16, 16, 16, float>& c,
                     QN_EMU_SITE)
{
    unsigned short ab[8], bb[8];
    for (int i = 0; i < 8; ++i)
    {
        ab[i] = detail::bits_of(a.x[i]);
        bb[i] = detail::bits_of(b.x[i]);
    }
    float cx[8];
    for (int i = 0; i < 8; ++i) cx[i] = c.x[i];
    ::qn::emu::wmma_mma(d.x, ab, bb, cx,
                        std::is_same_v<T, __half> ? ::qn::emu::MmaType::F16 : ::qn::emu::MmaType::BF16, qn_file, qn_line);
}
} // namespace nvcuda::wmma
