// racecheck.h — the shared-memory race detector of the CUDA emulator (QN_EMU_RACECHECK=1; native/README.md).
//
// How accesses are seen: the kernel translation units are compiled with -fsanitize=thread, but linked without
// ThreadSanitizer's runtime: the compiler's calls on every load and store (__tsan_read4(addr), __tsan_write8(addr),
// ...) land in racecheck.cpp, which returns at once unless a racecheck launch runs on this host thread. Only
// addresses inside the running block's shared memory are recorded: the dynamic shared buffer, and the TLS block of
// the kernel's library (static __shared__ is `static thread_local` there; the built-in variables threadIdx etc. in the
// same block are only ever read by kernels, so they never conflict). ldmatrix reads and cp.async writes, done by the
// emulator's runtime on a thread's behalf, are recorded explicitly. Atomics are not recorded (atomics never race with
// each other; an atomic against a plain access goes unseen).
//
// The rule, per block: accesses between two __syncthreads() form one barrier interval. Two accesses to the same
// byte in the same interval by different threads, at least one a write, are a race unless the threads are lanes of
// the same warp and a warp-collective operation whose mask held both (__syncwarp, a shuffle, vote, reduce, match,
// mma, ldmatrix, WMMA) completed between the two accesses. This is compute-sanitizer's racecheck on Volta and later,
// where the lanes of a warp are not implicitly synchronous: an intra-warp hazard without __syncwarp is reported too.
// Per shadow byte the checker keeps the last writer and up to two readers (the first and the latest other one), each
// with the warp-sync clock and the code address of its access; with three or more readers in one interval a write
// is checked against those two only.
#pragma once

#include "runtime.h"

#include <vector>

namespace qn::emu
{
class RaceChecker
{
public:
    // Before the blocks of a launch on this host thread: finds the static shared memory (the TLS block of the
    // library holding `kernel`) for this thread.
    void begin_launch(const Kernel& kernel);
    void begin_block(unsigned char* dynamicShared, unsigned int dynamicBytes, dim3 block);
    void set_thread(unsigned int linear) { current_ = linear; }
    void barrier() { ++epoch_; }
    // A warp collective with `mask` completed on warp `warp`: orders the lanes of the mask with each other.
    void warp_synced(unsigned int warp, unsigned int mask);
    // Records an access of the running thread; on a race fails the launch (never returns then).
    void access(const void* address, unsigned int size, bool write, const void* pc);

private:
    struct Access
    {
        int thread = -1;
        unsigned int clock = 0;
        const void* pc = nullptr;
    };
    struct Cell
    {
        unsigned int epoch = 0;
        Access writer, reader1, reader2;
    };

    bool ordered(const Access& earlier, unsigned int thread) const;
    [[noreturn]] void report(const std::string& region, std::size_t offset, unsigned int size, bool write,
                             const void* pc, const Access& other, bool otherWrote, std::size_t byte) const;
    std::string thread_text(unsigned int linear) const;

    unsigned char* dynamic_ = nullptr;
    unsigned int dynamicBytes_ = 0;
    unsigned char* static_ = nullptr;
    std::size_t staticBytes_ = 0;
    const void* staticModuleFn_ = nullptr;
    dim3 block_{1, 1, 1};
    unsigned int current_ = 0;
    unsigned int epoch_ = 0;          // monotonic across blocks: a cell of an older epoch is empty
    unsigned int clock_ = 0;          // warp-sync clock, monotonic across blocks
    std::vector<Cell> dynamicShadow_, staticShadow_;
    std::vector<unsigned int> pairSync_; // [warp][lane a][lane b]: clock of the last collective holding both
};

// The checker of the launch running on this host thread, or nullptr (no racecheck).
extern thread_local RaceChecker* tl_raceChecker;
// Number of racecheck launches in flight: the hooks' one-load fast path when no launch checks races.
extern std::atomic<int> g_racecheckLaunches;

// From the runtime's own shared-memory accesses (ldmatrix, cp.async).
inline void race_record(const void* address, unsigned int size, bool write)
{
    if (g_racecheckLaunches.load(std::memory_order_relaxed) == 0) return;
    if (RaceChecker* c = tl_raceChecker) c->access(address, size, write, __builtin_return_address(0));
}

bool racecheck_enabled();
void set_racecheck(bool on);
// The schedule of a block's threads: -1 in thread order, else the seed of a random order.
long long schedule_seed();
void set_schedule_seed(long long seed);
// A bad QN_EMU_SCHEDULE value: the message the launch fails with (empty when the variable is fine).
const std::string& schedule_env_error();
} // namespace qn::emu
