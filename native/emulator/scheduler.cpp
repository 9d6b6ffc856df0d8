// scheduler.cpp — blocks, fibers, barriers and warp rendezvous of the CUDA emulator (DESIGN.md §4).
//
// A launch hands blocks to a pool of host threads (QN_EMU_THREADS / qn_emu_set_option("host_threads"); 1 gives a
// deterministic run in block order). A host thread runs one block at a time: one fiber per CUDA thread, switched
// cooperatively. A fiber runs until it waits (block barrier, warp operation, __nanosleep) or exits; the scheduler
// then runs the next ready fiber in thread order. Rendezvous complete as soon as their last participant arrives;
// when no fiber is ready and the block has not finished, the block is deadlocked and the launch fails with a
// description of who waits where (never a hang).
#include "racecheck.h"
#include "runtime.h"

#include <algorithm>
#include <condition_variable>
#include <cstdarg>
#include <cstdlib>
#include <functional>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

thread_local constinit uint3 threadIdx{0, 0, 0};
thread_local constinit uint3 blockIdx{0, 0, 0};
thread_local constinit dim3 blockDim{1, 1, 1};
thread_local constinit dim3 gridDim{1, 1, 1};

namespace qn::emu
{
std::string format(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buffer[1024];
    int n = std::vsnprintf(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    if (n < 0) return std::string(fmt);
    if (static_cast<std::size_t>(n) < sizeof buffer) return std::string(buffer, static_cast<std::size_t>(n));
    std::string s(static_cast<std::size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    std::vsnprintf(s.data(), s.size(), fmt, ap);
    va_end(ap);
    s.resize(static_cast<std::size_t>(n));
    return s;
}

namespace
{
// ------------------------------------------------------------------------------------------------- options
int env_int(const char* name, int fallback)
{
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    char* end = nullptr;
    long x = std::strtol(v, &end, 10);
    return (end != v && x >= 0 && x <= 4096) ? static_cast<int>(x) : fallback;
}
int default_host_threads()
{
    int env = env_int("QN_EMU_THREADS", 0);
    if (env > 0) return env;
    unsigned int hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hw == 0 ? 1u : hw, 1u, 32u));
}
std::atomic<int> g_hostThreads{0};
std::atomic<int> g_useUcontext{-1};
std::atomic<std::size_t> g_stackBytes{0};
} // namespace

int host_threads()
{
    int n = g_hostThreads.load();
    return n > 0 ? n : default_host_threads();
}
void set_host_threads(int n) { g_hostThreads.store(n < 0 ? 0 : n); }
bool use_ucontext()
{
    int v = g_useUcontext.load();
    if (v < 0) v = env_int("QN_EMU_UCONTEXT", 0) != 0 ? 1 : 0;
    return v != 0 || !assembly_switch_available();
}
void set_use_ucontext(bool on) { g_useUcontext.store(on ? 1 : 0); }
std::size_t stack_bytes()
{
    std::size_t b = g_stackBytes.load();
    if (b == 0) b = static_cast<std::size_t>(env_int("QN_EMU_STACK_KB", 256)) * 1024;
    return std::max<std::size_t>(b, 64 * 1024);
}
void set_stack_bytes(std::size_t bytes) { g_stackBytes.store(bytes); }

namespace
{
// ------------------------------------------------------------------------------------------------- block state
enum class State : std::uint8_t { Ready, Running, AtBarrier, InWarpOp, AtActiveMask, Exited };

struct WarpGroup
{
    bool active = false;
    WarpOp op = WarpOp::SyncWarp;
    unsigned int mask = 0;
    unsigned int arrived = 0;
    WarpFn fn = nullptr;
    const char* file = "";
    int line = 0;
    void* data[32] = {};
};

struct Warp
{
    unsigned int present = 0;       // lanes that exist (a partial last warp has fewer)
    unsigned int exited = 0;
    unsigned int atActiveMask = 0;  // lanes waiting in __activemask()
    unsigned int activeMaskResult = 0;
    WarpGroup groups[32];
};

struct CpAsyncOp
{
    void* dst;
    unsigned char bytes[16];
    int size;
};

struct Fiber
{
    FiberContext ctx;
    void* stackBase = nullptr;      // usable stack (above the guard page)
    std::size_t stackSize = 0;
    uint3 tid{0, 0, 0};
    unsigned int linear = 0, lane = 0, warp = 0;
    State state = State::Ready;
    int barrierResult = 0;
    WarpGroup* group = nullptr;
    const char* waitFile = "";
    int waitLine = 0;
    std::vector<CpAsyncOp> cpOps;            // issued, not yet performed
    std::vector<std::size_t> cpGroupEnds;    // committed groups: end index into cpOps
};

const char* op_name(WarpOp op)
{
    switch (op)
    {
    case WarpOp::Shuffle: return "__shfl_*_sync";
    case WarpOp::Vote: return "__ballot/any/all_sync";
    case WarpOp::Reduce: return "__reduce_*_sync";
    case WarpOp::Match: return "__match_*_sync";
    case WarpOp::SyncWarp: return "__syncwarp";
    case WarpOp::Mma: return "mma.sync";
    case WarpOp::Ldmatrix: return "ldmatrix";
    case WarpOp::WmmaLoad: return "wmma::load_matrix_sync";
    case WarpOp::WmmaStore: return "wmma::store_matrix_sync";
    case WarpOp::WmmaMma: return "wmma::mma_sync";
    }
    return "warp operation";
}

const char* base_name(const char* path)
{
    const char* slash = std::strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool same_site(const char* f1, int l1, const char* f2, int l2)
{
    return l1 == l2 && (f1 == f2 || std::strcmp(f1, f2) == 0);
}

std::string lanes_text(unsigned int mask)
{
    std::string s;
    for (int i = 0; i < 32;)
    {
        if (!((mask >> i) & 1u)) { ++i; continue; }
        int j = i;
        while (j + 1 < 32 && ((mask >> (j + 1)) & 1u)) ++j;
        if (!s.empty()) s += ",";
        s += (i == j) ? format("%d", i) : format("%d-%d", i, j);
        i = j + 1;
    }
    return s.empty() ? "none" : s;
}

class Runner;
thread_local Runner* tl_runner = nullptr;

extern "C" [[noreturn]] void qn_emu_fiber_entry();

class Runner
{
public:
    const Kernel* kernel = nullptr;
    void** args = nullptr;
    dim3 grid, block;
    uint3 bidx{0, 0, 0};
    unsigned int n = 0;
    bool ucontext = false;
    FiberContext sched;
    Fiber* current = nullptr;
    std::vector<std::unique_ptr<Fiber>> fibers;
    std::vector<Warp> warps;
    unsigned int nExited = 0;
    unsigned int nAtBarrier = 0;
    const char* barrierFile = "";
    int barrierLine = 0;
    BarrierOp barrierOp = BarrierOp::Sync;
    unsigned int barrierTrue = 0;
    bool failed = false;
    std::string error;
    unsigned char* dynamicShared = nullptr;
    unsigned int dynamicBytes = 0;
    bool racecheck = false;        // QN_EMU_RACECHECK: record shared-memory accesses (racecheck.h)
    RaceChecker checker;
    long long scheduleSeed = -1;   // QN_EMU_SCHEDULE: -1 thread order, else the seed of a random order
    std::vector<unsigned int> order;

    Runner()
    {
        dynamicShared = static_cast<unsigned char*>(std::aligned_alloc(128, kMaxDynamicSharedOptIn));
        if (dynamicShared == nullptr) std::abort();
    }

    void ensure_fibers(unsigned int count)
    {
        const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        const std::size_t size = (stack_bytes() + page - 1) / page * page;
        while (fibers.size() < count)
        {
            auto f = std::make_unique<Fiber>();
            void* mem = mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                             -1, 0);
            if (mem == MAP_FAILED) std::abort();
            mprotect(mem, page, PROT_NONE); // guard page: a stack overflow faults instead of corrupting memory
            f->stackBase = static_cast<unsigned char*>(mem) + page;
            f->stackSize = size;
            fibers.push_back(std::move(f));
        }
    }

    std::string where() const
    {
        const Fiber* f = current;
        std::string s = format("kernel '%s', block (%u,%u,%u)", kernel->name.c_str(), bidx.x, bidx.y, bidx.z);
        if (f != nullptr) s += format(", thread (%u,%u,%u)", f->tid.x, f->tid.y, f->tid.z);
        return s;
    }

    // Called on a fiber: records the error and leaves the block for good.
    [[noreturn]] void fail(const std::string& message)
    {
        if (!failed)
        {
            failed = true;
            error = where() + ": " + message;
        }
        Fiber* f = current;
        fiber_switch(f->ctx, sched, ucontext);
        std::abort(); // a failed block is never resumed
    }

    // Called on a fiber: parks it until something marks it Ready and the scheduler resumes it.
    void park(State state)
    {
        Fiber* f = current;
        f->state = state;
        fiber_switch(f->ctx, sched, ucontext);
    }

    Fiber& fiber_at(unsigned int warp, unsigned int lane) { return *fibers[warp * 32 + lane]; }

    void complete_group(Warp& w, unsigned int warpIndex, WarpGroup& g)
    {
        if (g.fn != nullptr) g.fn(g.data, g.mask);
        if (racecheck) checker.warp_synced(warpIndex, g.mask);
        for (unsigned int lane = 0; lane < 32; ++lane)
        {
            if (!((g.mask >> lane) & 1u)) continue;
            Fiber& f = fiber_at(warpIndex, lane);
            f.group = nullptr;
            if (&f != current) f.state = State::Ready;
        }
        g.active = false;
        (void)w;
    }

    void warp_arrive(WarpOp op, unsigned int mask, void* data, WarpFn fn, const char* file, int line)
    {
        Fiber& f = *current;
        Warp& w = warps[f.warp];
        const unsigned int bit = 1u << f.lane;
        const char* name = op_name(op);
        if (!(mask & bit))
            fail(format("%s at %s:%d: mask 0x%08x does not include the calling lane %u", name, base_name(file), line,
                        mask, f.lane));
        if (mask & ~w.present)
            fail(format("%s at %s:%d: mask 0x%08x names lanes %s that do not exist (block of %u threads)", name,
                        base_name(file), line, mask, lanes_text(mask & ~w.present).c_str(), n));
        if (mask & w.exited)
            fail(format("%s at %s:%d: mask 0x%08x names lanes %s of warp %u that have exited", name, base_name(file),
                        line, mask, lanes_text(mask & w.exited).c_str(), f.warp));
        WarpGroup* g = nullptr;
        WarpGroup* freeSlot = nullptr;
        for (auto& candidate : w.groups)
        {
            if (candidate.active && candidate.mask == mask) { g = &candidate; break; }
            if (!candidate.active && freeSlot == nullptr) freeSlot = &candidate;
        }
        if (g != nullptr && g->op != op)
            fail(format("divergent warp operation: lane %u reached %s at %s:%d while lanes %s of warp %u wait in %s at "
                        "%s:%d with the same mask 0x%08x",
                        f.lane, name, base_name(file), line, lanes_text(g->arrived).c_str(), f.warp, op_name(g->op),
                        base_name(g->file), g->line, mask));
        if (g == nullptr)
        {
            g = freeSlot; // at most 32 groups can be open (one per waiting lane), so a slot is free
            g->active = true;
            g->op = op;
            g->mask = mask;
            g->arrived = 0;
            g->fn = fn;
            g->file = file;
            g->line = line;
        }
        g->arrived |= bit;
        g->data[f.lane] = data;
        if (g->arrived == g->mask)
        {
            complete_group(w, f.warp, *g);
            return;
        }
        f.group = g;
        f.waitFile = file;
        f.waitLine = line;
        park(State::InWarpOp);
    }

    void resolve_active_mask(Warp& w, unsigned int warpIndex)
    {
        unsigned int result = w.atActiveMask;
        for (unsigned int lane = 0; lane < 32; ++lane)
        {
            if (!((result >> lane) & 1u)) continue;
            Fiber& f = fiber_at(warpIndex, lane);
            f.barrierResult = static_cast<int>(result);
            if (&f != current) f.state = State::Ready;
        }
        w.atActiveMask = 0;
    }

    unsigned int active_mask(const char* file, int line)
    {
        Fiber& f = *current;
        Warp& w = warps[f.warp];
        w.atActiveMask |= 1u << f.lane;
        f.waitFile = file;
        f.waitLine = line;
        if ((w.atActiveMask | w.exited) == w.present)
        {
            // The whole (remaining) warp is here: converged.
            resolve_active_mask(w, f.warp);
            return static_cast<unsigned int>(f.barrierResult);
        }
        park(State::AtActiveMask);
        return static_cast<unsigned int>(f.barrierResult);
    }

    void release_barrier()
    {
        int result = 0;
        switch (barrierOp)
        {
        case BarrierOp::Sync: result = 0; break;
        case BarrierOp::Count: result = static_cast<int>(barrierTrue); break;
        case BarrierOp::And: result = barrierTrue == nAtBarrier ? 1 : 0; break;
        case BarrierOp::Or: result = barrierTrue > 0 ? 1 : 0; break;
        }
        if (racecheck) checker.barrier();
        for (unsigned int i = 0; i < n; ++i)
        {
            Fiber& f = *fibers[i];
            if (f.state != State::AtBarrier) continue;
            f.barrierResult = result;
            f.state = &f == current ? State::Running : State::Ready;
        }
        nAtBarrier = 0;
        barrierTrue = 0;
    }

    int barrier(BarrierOp op, int predicate, const char* file, int line)
    {
        Fiber& f = *current;
        if (nAtBarrier == 0)
        {
            barrierFile = file;
            barrierLine = line;
            barrierOp = op;
        }
        else if (!same_site(file, line, barrierFile, barrierLine) || op != barrierOp)
        {
            fail(format("divergent __syncthreads(): this thread reached the barrier at %s:%d while threads %s wait at "
                        "%s:%d; a barrier in divergent code never completes on a GPU",
                        base_name(file), line, threads_at_barrier().c_str(), base_name(barrierFile), barrierLine));
        }
        ++nAtBarrier;
        if (predicate) ++barrierTrue;
        f.waitFile = file;
        f.waitLine = line;
        if (nAtBarrier + nExited == n)
        {
            f.state = State::AtBarrier;
            release_barrier(); // sets this thread Running again
            return f.barrierResult;
        }
        park(State::AtBarrier);
        return f.barrierResult;
    }

    void on_exit()
    {
        Fiber& f = *current;
        Warp& w = warps[f.warp];
        const unsigned int bit = 1u << f.lane;
        w.exited |= bit;
        ++nExited;
        f.state = State::Exited;
        for (auto& g : w.groups)
        {
            if (g.active && (g.mask & bit))
                fail(format("thread exited while lanes %s of warp %u wait for it in %s at %s:%d (mask 0x%08x)",
                            lanes_text(g.arrived).c_str(), f.warp, op_name(g.op), base_name(g.file), g.line, g.mask));
        }
        if (w.atActiveMask != 0 && (w.atActiveMask | w.exited) == w.present) resolve_active_mask(w, f.warp);
        if (nAtBarrier > 0 && nAtBarrier + nExited == n) release_barrier();
    }

    std::string threads_text(State state) const
    {
        std::string s;
        unsigned int i = 0;
        while (i < n)
        {
            if (fibers[i]->state != state) { ++i; continue; }
            unsigned int j = i;
            while (j + 1 < n && fibers[j + 1]->state == state) ++j;
            if (!s.empty()) s += ",";
            s += (i == j) ? format("%u", i) : format("%u-%u", i, j);
            i = j + 1;
        }
        return s.empty() ? "none" : s;
    }
    std::string threads_at_barrier() const { return threads_text(State::AtBarrier); }

    std::string describe_deadlock() const
    {
        std::string s = format("kernel '%s', block (%u,%u,%u): deadlock, no thread can proceed:", kernel->name.c_str(),
                               bidx.x, bidx.y, bidx.z);
        if (nAtBarrier > 0)
            s += format(" threads %s wait at __syncthreads() %s:%d;", threads_at_barrier().c_str(),
                        base_name(barrierFile), barrierLine);
        for (unsigned int wi = 0; wi < warps.size(); ++wi)
        {
            const Warp& w = warps[wi];
            for (const auto& g : w.groups)
            {
                if (!g.active) continue;
                unsigned int missing = g.mask & ~g.arrived;
                s += format(" warp %u lanes %s wait in %s at %s:%d for lanes %s (mask 0x%08x)", wi,
                            lanes_text(g.arrived).c_str(), op_name(g.op), base_name(g.file), g.line,
                            lanes_text(missing).c_str(), g.mask);
                // Where the missing lanes are, lanes at the same place merged: "lanes 16-31 are at ...".
                std::vector<std::pair<std::string, unsigned int>> places;
                for (unsigned int lane = 0; lane < 32; ++lane)
                {
                    if (!((missing >> lane) & 1u)) continue;
                    const Fiber& f = *fibers[wi * 32 + lane];
                    std::string place;
                    if (f.state == State::AtBarrier)
                        place = format("at __syncthreads() %s:%d", base_name(f.waitFile), f.waitLine);
                    else if (f.state == State::InWarpOp && f.group != nullptr)
                        place = format("in %s at %s:%d (mask 0x%08x)", op_name(f.group->op), base_name(f.group->file),
                                       f.group->line, f.group->mask);
                    else
                        continue;
                    auto it = std::find_if(places.begin(), places.end(), [&](const auto& p) { return p.first == place; });
                    if (it == places.end()) places.emplace_back(place, 1u << lane);
                    else it->second |= 1u << lane;
                }
                std::string elsewhere;
                for (const auto& [place, lanes] : places)
                    elsewhere += format(" lanes %s are %s;", lanes_text(lanes).c_str(), place.c_str());
                s += elsewhere.empty() ? ";" : ":" + elsewhere;
            }
        }
        s += " (a barrier or warp operation in divergent code)";
        return s;
    }

    // QN_EMU_SCHEDULE=random:SEED: a fresh random order of the threads for each pass over the ready ones (a pass
    // runs each ready thread until it waits or exits, so the order between two barriers changes every time).
    void shuffle_order(std::uint64_t& state)
    {
        for (unsigned int k = n; k > 1; --k)
        {
            // splitmix64: small, and the same on every platform (std::shuffle's algorithm is not specified).
            std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            std::swap(order[k - 1], order[static_cast<unsigned int>(z % k)]);
        }
    }

    // Runs one block to completion or failure. Returns false with `error` set on failure.
    bool run_block(uint3 index)
    {
        bidx = index;
        blockIdx = index;
        blockDim = block;
        gridDim = grid;
        nExited = 0;
        nAtBarrier = 0;
        barrierTrue = 0;
        failed = false;
        error.clear();
        const unsigned int nWarps = (n + 31) / 32;
        warps.assign(nWarps, Warp{});
        for (unsigned int wi = 0; wi < nWarps; ++wi)
        {
            unsigned int lanes = std::min(32u, n - wi * 32);
            warps[wi].present = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
        }
        for (unsigned int i = 0; i < n; ++i)
        {
            Fiber& f = *fibers[i];
            f.tid = uint3{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
            f.linear = i;
            f.lane = i % 32;
            f.warp = i / 32;
            f.state = State::Ready;
            f.group = nullptr;
            f.barrierResult = 0;
            f.cpOps.clear();
            f.cpGroupEnds.clear();
            fiber_prepare(f.ctx, f.stackBase, f.stackSize, &qn_emu_fiber_entry, ucontext);
        }
        if (dynamicBytes > 0) std::memset(dynamicShared, 0xff, dynamicBytes);
        if (racecheck) checker.begin_block(dynamicShared, dynamicBytes, block);
        order.resize(n);
        for (unsigned int i = 0; i < n; ++i) order[i] = i;
        // The random schedule's generator depends on the seed and the block only, so a block runs in the same
        // order whatever host thread runs it.
        std::uint64_t rng = static_cast<std::uint64_t>(scheduleSeed) * 0x9e3779b97f4a7c15ull ^
                            ((static_cast<std::uint64_t>(index.z) * grid.y + index.y) * grid.x + index.x);

        for (;;)
        {
            bool ran = false;
            if (scheduleSeed >= 0) shuffle_order(rng);
            for (unsigned int k = 0; k < n; ++k)
            {
                const unsigned int i = order[k];
                Fiber& f = *fibers[i];
                if (f.state != State::Ready) continue;
                current = &f;
                threadIdx = f.tid;
                if (racecheck) checker.set_thread(i);
                f.state = State::Running;
                fiber_switch(sched, f.ctx, ucontext);
                current = nullptr;
                ran = true;
                if (failed) return false;
            }
            if (nExited == n) return true;
            if (ran) continue;
            // Nothing is ready. Lanes in __activemask() whose warp-mates all wait elsewhere (or exited) proceed
            // with the mask of the lanes that reached it together; otherwise the block is deadlocked.
            bool resolved = false;
            for (unsigned int wi = 0; wi < nWarps; ++wi)
            {
                if (warps[wi].atActiveMask != 0)
                {
                    resolve_active_mask(warps[wi], wi);
                    resolved = true;
                }
            }
            if (resolved) continue;
            error = describe_deadlock();
            return false;
        }
    }
};

extern "C" [[noreturn]] void qn_emu_fiber_entry()
{
    Runner& r = *tl_runner;
    r.kernel->thunk(r.kernel->fn, r.args);
    r.on_exit();
    Fiber* f = r.current;
    fiber_switch(f->ctx, r.sched, r.ucontext);
    std::abort(); // an exited fiber is never resumed
}

Runner& runner_on_this_thread()
{
    if (tl_runner == nullptr) tl_runner = new Runner(); // lives as long as its host thread (pool threads never exit)
    return *tl_runner;
}

Runner& running(const char* what)
{
    Runner* r = tl_runner;
    if (r == nullptr || r->current == nullptr)
    {
        std::fprintf(stderr, "qn_emulator: %s called outside a kernel launched by the emulator\n", what);
        std::abort();
    }
    return *r;
}

// ------------------------------------------------------------------------------------------------- host threads
class Pool
{
public:
    // Runs job(worker) on `count` pool threads and waits for all of them.
    void run(unsigned int count, const std::function<void(unsigned int)>& job)
    {
        std::unique_lock lock(mutex_);
        while (started_ < count)
        {
            unsigned int index = started_++;
            std::thread([this, index] { worker(index); }).detach();
        }
        job_ = &job;
        active_ = count;
        remaining_ = count;
        ++generation_;
        work_.notify_all();
        done_.wait(lock, [this] { return remaining_ == 0; });
        job_ = nullptr;
    }

private:
    void worker(unsigned int index)
    {
        std::uint64_t seen = 0;
        std::unique_lock lock(mutex_);
        for (;;)
        {
            work_.wait(lock, [&] { return generation_ != seen; });
            seen = generation_;
            if (index >= active_) continue;
            const auto* job = job_;
            lock.unlock();
            (*job)(index);
            lock.lock();
            if (--remaining_ == 0) done_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable work_, done_;
    unsigned int started_ = 0, active_ = 0, remaining_ = 0;
    std::uint64_t generation_ = 0;
    const std::function<void(unsigned int)>* job_ = nullptr;
};

Pool& pool()
{
    static Pool* p = new Pool(); // never destroyed: its threads are blocked on it until the process exits
    return *p;
}
std::mutex g_launchMutex;
} // namespace

// ------------------------------------------------------------------------------------------------- device hooks
void warp_collective(WarpOp op, unsigned int mask, void* data, WarpFn fn, const char* file, int line)
{
    running(op_name(op)).warp_arrive(op, mask, data, fn, file, line);
}
unsigned int active_mask(const char* file, int line) { return running("__activemask").active_mask(file, line); }
int block_barrier(BarrierOp op, int predicate, const char* file, int line)
{
    return running("__syncthreads").barrier(op, predicate, file, line);
}
void yield_fiber() { running("__nanosleep").park(State::Ready); }
void kernel_error(const char* message, const char* file, int line)
{
    running("kernel error").fail(format("%s at %s:%d", message, base_name(file), line));
}
void* dynamic_shared_memory() { return running("dynamic shared memory").dynamicShared; }
unsigned int lane_id() { return running("lane id").current->lane; }

// Fails the launch from inside a warp operation's completion (which runs on the last lane to arrive).
[[noreturn]] void fail_in_kernel(const std::string& message) { running("kernel error").fail(message); }

void cp_async(void* dst, const void* src, int cpSize, int srcSize, const char* file, int line)
{
    Runner& r = running("cp.async");
    auto d = reinterpret_cast<std::uintptr_t>(dst);
    auto s = reinterpret_cast<std::uintptr_t>(src);
    if (d % static_cast<unsigned int>(cpSize) != 0 || s % static_cast<unsigned int>(cpSize) != 0)
        r.fail(format("cp.async at %s:%d: addresses %p (shared) and %p (global) must be %d-byte aligned",
                      base_name(file), line, dst, src, cpSize));
    if (srcSize < 0 || srcSize > cpSize)
        r.fail(format("cp.async at %s:%d: src-size %d is outside 0..%d", base_name(file), line, srcSize, cpSize));
    CpAsyncOp op{dst, {}, cpSize};
    if (srcSize > 0) std::memcpy(op.bytes, src, static_cast<std::size_t>(srcSize)); // the source is read now...
    r.current->cpOps.push_back(op);                                               // ...and lands at the wait
}
void cp_async_commit()
{
    Fiber& f = *running("cp.async.commit_group").current;
    f.cpGroupEnds.push_back(f.cpOps.size());
}
void cp_async_wait(int pendingGroups)
{
    Fiber& f = *running("cp.async.wait_group").current;
    const std::size_t committed = f.cpGroupEnds.size();
    const std::size_t keep = static_cast<std::size_t>(pendingGroups < 0 ? 0 : pendingGroups);
    if (committed <= keep) return;
    const std::size_t doneGroups = committed - keep;
    const std::size_t doneOps = f.cpGroupEnds[doneGroups - 1];
    for (std::size_t i = 0; i < doneOps; ++i)
    {
        race_record(f.cpOps[i].dst, static_cast<unsigned int>(f.cpOps[i].size), true); // the copy lands now
        std::memcpy(f.cpOps[i].dst, f.cpOps[i].bytes, static_cast<std::size_t>(f.cpOps[i].size));
    }
    f.cpOps.erase(f.cpOps.begin(), f.cpOps.begin() + static_cast<std::ptrdiff_t>(doneOps));
    f.cpGroupEnds.erase(f.cpGroupEnds.begin(), f.cpGroupEnds.begin() + static_cast<std::ptrdiff_t>(doneGroups));
    for (auto& end : f.cpGroupEnds) end -= doneOps;
}

// ------------------------------------------------------------------------------------------------- launch
bool launch(const Kernel& kernel, const LaunchConfig& config, std::string& error)
{
    std::lock_guard lock(g_launchMutex);
    if (!schedule_env_error().empty())
    {
        error = schedule_env_error();
        return false;
    }
    const bool racecheck = racecheck_enabled();
    const long long scheduleSeed = schedule_seed();
    // Counted while the launch runs: the instrumentation hooks return at once when no launch checks races.
    struct RacecheckScope
    {
        bool on;
        explicit RacecheckScope(bool o) : on(o) { if (on) g_racecheckLaunches.fetch_add(1); }
        ~RacecheckScope() { if (on) g_racecheckLaunches.fetch_sub(1); }
    } racecheckScope(racecheck);
    const unsigned long long total =
        static_cast<unsigned long long>(config.grid.x) * config.grid.y * config.grid.z;
    const unsigned int n = config.block.x * config.block.y * config.block.z;
    const bool ucontext = use_ucontext();
    const unsigned int workers =
        static_cast<unsigned int>(std::min<unsigned long long>(static_cast<unsigned long long>(host_threads()), total));

    std::atomic<unsigned long long> next{0};
    std::atomic<bool> abort{false};
    std::mutex errorMutex;
    unsigned long long errorBlock = ~0ull;

    std::function<void(unsigned int)> job = [&](unsigned int) {
        Runner& r = runner_on_this_thread();
        r.kernel = &kernel;
        r.args = config.args;
        r.grid = config.grid;
        r.block = config.block;
        r.n = n;
        r.ucontext = ucontext;
        r.dynamicBytes = config.sharedBytes;
        r.racecheck = racecheck;
        r.scheduleSeed = scheduleSeed;
        r.ensure_fibers(n);
        if (racecheck) r.checker.begin_launch(kernel);
        tl_raceChecker = racecheck ? &r.checker : nullptr;
        for (;;)
        {
            if (abort.load(std::memory_order_relaxed)) break;
            unsigned long long b = next.fetch_add(1);
            if (b >= total) break;
            uint3 index{static_cast<unsigned int>(b % config.grid.x),
                        static_cast<unsigned int>((b / config.grid.x) % config.grid.y),
                        static_cast<unsigned int>(b / (static_cast<unsigned long long>(config.grid.x) * config.grid.y))};
            if (!r.run_block(index))
            {
                std::lock_guard el(errorMutex);
                if (b < errorBlock) // report the first failing block, whatever the threads' timing
                {
                    errorBlock = b;
                    error = r.error;
                }
                abort.store(true);
            }
        }
        tl_raceChecker = nullptr;
        r.kernel = nullptr;
        r.args = nullptr;
    };
    pool().run(workers, job);
    return errorBlock == ~0ull;
}
} // namespace qn::emu
