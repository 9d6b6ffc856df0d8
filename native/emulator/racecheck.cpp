// racecheck.cpp — the shared-memory race detector (racecheck.h explains the rule), the entry points the
// -fsanitize=thread instrumentation of the kernels calls, and the racecheck / schedule options.
#include "racecheck.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <link.h>

namespace qn::emu
{
[[noreturn]] void fail_in_kernel(const std::string& message);

thread_local RaceChecker* tl_raceChecker = nullptr;
std::atomic<int> g_racecheckLaunches{0};

// ------------------------------------------------------------------------------------------------- options
namespace
{
std::atomic<int> g_racecheck{-1};
std::atomic<long long> g_scheduleSeed{-2}; // -2: not read from the environment yet
std::string g_scheduleEnvError;
std::once_flag g_scheduleEnvOnce;

void read_schedule_env()
{
    std::call_once(g_scheduleEnvOnce, [] {
        const char* v = std::getenv("QN_EMU_SCHEDULE");
        long long seed = -1;
        if (v != nullptr && *v != '\0' && std::strcmp(v, "in-order") != 0)
        {
            char* end = nullptr;
            const bool prefixed = std::strncmp(v, "random:", 7) == 0;
            long long s = prefixed ? std::strtoll(v + 7, &end, 10) : -1;
            if (!prefixed || end == v + 7 || *end != '\0' || s < 0)
                g_scheduleEnvError = format("QN_EMU_SCHEDULE='%s': expected 'random:SEED' (SEED an integer >= 0) or "
                                            "'in-order'", v);
            else
                seed = s;
        }
        long long expected = -2;
        g_scheduleSeed.compare_exchange_strong(expected, seed);
    });
}
} // namespace

bool racecheck_enabled()
{
    int v = g_racecheck.load();
    if (v < 0)
    {
        const char* e = std::getenv("QN_EMU_RACECHECK");
        v = (e != nullptr && *e != '\0' && std::strcmp(e, "0") != 0) ? 1 : 0;
    }
    return v != 0;
}
void set_racecheck(bool on) { g_racecheck.store(on ? 1 : 0); }
long long schedule_seed()
{
    read_schedule_env();
    return g_scheduleSeed.load();
}
void set_schedule_seed(long long seed)
{
    read_schedule_env();
    g_scheduleSeed.store(seed < 0 ? -1 : seed);
}
const std::string& schedule_env_error()
{
    read_schedule_env();
    return g_scheduleEnvError;
}

// ------------------------------------------------------------------------------------------------- static shared
namespace
{
struct TlsIndex
{
    unsigned long module, offset;
};
} // namespace
} // namespace qn::emu

extern "C" void* __tls_get_addr(qn::emu::TlsIndex*);

namespace qn::emu
{
namespace
{
struct ModuleTls
{
    std::uintptr_t fn;
    std::size_t modid = 0, bytes = 0;
};

int find_module_tls(dl_phdr_info* info, std::size_t, void* data)
{
    auto* m = static_cast<ModuleTls*>(data);
    bool holds = false;
    std::size_t tlsBytes = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i)
    {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
        if (ph.p_type == PT_LOAD && m->fn >= start && m->fn < start + ph.p_memsz) holds = true;
        if (ph.p_type == PT_TLS) tlsBytes = ph.p_memsz;
    }
    if (!holds) return 0;
    m->modid = info->dlpi_tls_modid;
    m->bytes = tlsBytes;
    return 1;
}
} // namespace

void RaceChecker::begin_launch(const Kernel& kernel)
{
    if (staticModuleFn_ == kernel.fn) return;
    staticModuleFn_ = kernel.fn;
    ModuleTls m{reinterpret_cast<std::uintptr_t>(kernel.fn)};
    dl_iterate_phdr(&find_module_tls, &m);
    static_ = nullptr;
    staticBytes_ = 0;
    if (m.modid != 0 && m.bytes != 0)
    {
        TlsIndex index{m.modid, 0};
        static_ = static_cast<unsigned char*>(__tls_get_addr(&index)); // allocates this thread's block if needed
        staticBytes_ = m.bytes;
    }
    staticShadow_.assign(staticBytes_, Cell{});
}

void RaceChecker::begin_block(unsigned char* dynamicShared, unsigned int dynamicBytes, dim3 block)
{
    dynamic_ = dynamicShared;
    dynamicBytes_ = dynamicBytes;
    if (dynamicShadow_.size() < dynamicBytes) dynamicShadow_.resize(dynamicBytes);
    block_ = block;
    const unsigned int warps = (block.x * block.y * block.z + 31) / 32;
    if (pairSync_.size() < warps * 32u * 32u) pairSync_.resize(warps * 32u * 32u, 0);
    ++epoch_;
    ++clock_;
}

void RaceChecker::warp_synced(unsigned int warp, unsigned int mask)
{
    const unsigned int c = ++clock_;
    unsigned int* p = &pairSync_[warp * 32u * 32u];
    for (unsigned int a = 0; a < 32; ++a)
    {
        if (!((mask >> a) & 1u)) continue;
        for (unsigned int b = 0; b < 32; ++b)
            if ((mask >> b) & 1u) p[a * 32 + b] = c;
    }
}

bool RaceChecker::ordered(const Access& earlier, unsigned int thread) const
{
    if (earlier.thread < 0 || static_cast<unsigned int>(earlier.thread) == thread) return true;
    const unsigned int e = static_cast<unsigned int>(earlier.thread);
    if (e / 32 != thread / 32) return false;
    return pairSync_[(thread / 32) * 32u * 32u + (e % 32) * 32 + thread % 32] > earlier.clock;
}

void RaceChecker::access(const void* address, unsigned int size, bool write, const void* pc)
{
    const auto* p = static_cast<const unsigned char*>(address);
    std::vector<Cell>* shadow;
    std::size_t offset;
    const char* region;
    if (p >= dynamic_ && p < dynamic_ + dynamicBytes_)
    {
        shadow = &dynamicShadow_;
        offset = static_cast<std::size_t>(p - dynamic_);
        region = "dynamic shared memory";
    }
    else if (p >= static_ && p < static_ + staticBytes_)
    {
        shadow = &staticShadow_;
        offset = static_cast<std::size_t>(p - static_);
        region = "static shared memory (TLS block)";
    }
    else
    {
        return; // global memory, a fiber's stack, host memory: not shared memory
    }
    const std::size_t end = std::min(offset + size, shadow->size());
    const Access self{static_cast<int>(current_), clock_, pc};
    for (std::size_t i = offset; i < end; ++i)
    {
        Cell& c = (*shadow)[i];
        if (c.epoch != epoch_) c = Cell{epoch_, {}, {}, {}};
        if (!ordered(c.writer, current_)) report(region, offset, size, write, pc, c.writer, true, i);
        if (write)
        {
            if (!ordered(c.reader1, current_)) report(region, offset, size, write, pc, c.reader1, false, i);
            if (!ordered(c.reader2, current_)) report(region, offset, size, write, pc, c.reader2, false, i);
            c.writer = self;
            c.reader1 = Access{};
            c.reader2 = Access{};
        }
        else if (c.reader1.thread < 0 || c.reader1.thread == self.thread)
            c.reader1 = self;
        else
            c.reader2 = self;
    }
}

// ------------------------------------------------------------------------------------------------- reports
namespace
{
// "file:line" of a code address through the library's line table (kernels are compiled with -g1) and addr2line;
// "library+0xOFFSET" when that is not available.
std::string source_line(const void* pc)
{
    if (pc == nullptr) return "unknown";
    Dl_info info{};
    if (dladdr(pc, &info) == 0 || info.dli_fname == nullptr) return format("%p", pc);
    const auto offset = reinterpret_cast<std::uintptr_t>(pc) - reinterpret_cast<std::uintptr_t>(info.dli_fbase) - 1;
    const char* slash = std::strrchr(info.dli_fname, '/');
    std::string fallback = format("%s+0x%zx", slash ? slash + 1 : info.dli_fname, static_cast<std::size_t>(offset));
    if (std::strchr(info.dli_fname, '\'') != nullptr) return fallback;
    std::string cmd = format("addr2line -e '%s' 0x%zx 2>/dev/null", info.dli_fname, static_cast<std::size_t>(offset));
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) return fallback;
    char line[1024] = {};
    const bool got = std::fgets(line, sizeof line, f) != nullptr;
    pclose(f);
    std::string s = got ? std::string(line) : std::string();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (const auto d = s.find(" (discriminator"); d != std::string::npos) s.erase(d);
    if (s.empty() || s.rfind("??", 0) == 0) return fallback;
    const auto cut = s.rfind('/', s.rfind(':'));
    return cut == std::string::npos ? s : s.substr(cut + 1);
}
} // namespace

std::string RaceChecker::thread_text(unsigned int linear) const
{
    return format("thread (%u,%u,%u) [warp %u lane %u]", linear % block_.x, (linear / block_.x) % block_.y,
                  linear / (block_.x * block_.y), linear / 32, linear % 32);
}

void RaceChecker::report(const std::string& region, std::size_t offset, unsigned int size, bool write,
                         const void* pc, const Access& other, bool otherWrote, std::size_t byte) const
{
    const unsigned int o = static_cast<unsigned int>(other.thread);
    const bool sameWarp = o / 32 == current_ / 32;
    fail_in_kernel(format(
        "shared-memory race (QN_EMU_RACECHECK): %s %s %u bytes at %s offset 0x%zx (at %s); %s %s byte 0x%zx "
        "earlier in the same barrier interval (at %s), with no __syncthreads() between them%s",
        thread_text(current_).c_str(), write ? "writes" : "reads", size, region.c_str(), offset,
        source_line(pc).c_str(), thread_text(o).c_str(), otherWrote ? "wrote" : "read", byte,
        source_line(other.pc).c_str(),
        sameWarp ? " and no __syncwarp() or other warp-collective operation of both lanes" : ""));
}
} // namespace qn::emu

// ------------------------------------------------------------------------------------------------- the hooks
// What -fsanitize=thread code calls. The fast path, no racecheck launch anywhere, is one relaxed load.
namespace
{
inline void hook(const void* a, unsigned int size, bool write, const void* pc)
{
    if (qn::emu::g_racecheckLaunches.load(std::memory_order_relaxed) == 0) return;
    if (qn::emu::RaceChecker* c = qn::emu::tl_raceChecker) c->access(a, size, write, pc);
}
} // namespace

#define QN_TSAN_ACCESS(N)                                                                                             \
    extern "C" QN_EMU_API void __tsan_read##N(void* a) { hook(a, N, false, __builtin_return_address(0)); }           \
    extern "C" QN_EMU_API void __tsan_write##N(void* a) { hook(a, N, true, __builtin_return_address(0)); }           \
    extern "C" QN_EMU_API void __tsan_unaligned_read##N(void* a) { hook(a, N, false, __builtin_return_address(0)); } \
    extern "C" QN_EMU_API void __tsan_unaligned_write##N(void* a) { hook(a, N, true, __builtin_return_address(0)); } \
    extern "C" QN_EMU_API void __tsan_volatile_read##N(void* a) { hook(a, N, false, __builtin_return_address(0)); }  \
    extern "C" QN_EMU_API void __tsan_volatile_write##N(void* a) { hook(a, N, true, __builtin_return_address(0)); }
QN_TSAN_ACCESS(1)
QN_TSAN_ACCESS(2)
QN_TSAN_ACCESS(4)
QN_TSAN_ACCESS(8)
QN_TSAN_ACCESS(16)
#undef QN_TSAN_ACCESS

extern "C" QN_EMU_API void __tsan_read_range(void* a, unsigned long n)
{
    hook(a, static_cast<unsigned int>(n), false, __builtin_return_address(0));
}
extern "C" QN_EMU_API void __tsan_write_range(void* a, unsigned long n)
{
    hook(a, static_cast<unsigned int>(n), true, __builtin_return_address(0));
}
extern "C" QN_EMU_API void __tsan_init() {}
extern "C" QN_EMU_API void __tsan_func_entry(void*) {}
extern "C" QN_EMU_API void __tsan_func_exit() {}
extern "C" QN_EMU_API void __tsan_vptr_update(void**, void*) {}
extern "C" QN_EMU_API void __tsan_vptr_read(void**) {}
extern "C" QN_EMU_API void* __tsan_memcpy(void* d, const void* s, unsigned long n)
{
    hook(s, static_cast<unsigned int>(n), false, __builtin_return_address(0));
    hook(d, static_cast<unsigned int>(n), true, __builtin_return_address(0));
    return std::memcpy(d, s, n);
}
extern "C" QN_EMU_API void* __tsan_memmove(void* d, const void* s, unsigned long n)
{
    hook(s, static_cast<unsigned int>(n), false, __builtin_return_address(0));
    hook(d, static_cast<unsigned int>(n), true, __builtin_return_address(0));
    return std::memmove(d, s, n);
}
extern "C" QN_EMU_API void* __tsan_memset(void* d, int c, unsigned long n)
{
    hook(d, static_cast<unsigned int>(n), true, __builtin_return_address(0));
    return std::memset(d, c, n);
}

// Atomics: performed sequentially consistent whatever order the caller asked for (stronger is always correct);
// not recorded (racecheck.h).
#define QN_TSAN_ATOMICS(N, T)                                                                                          \
    extern "C" QN_EMU_API T __tsan_atomic##N##_load(const volatile T* a, int) { return __atomic_load_n(a, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API void __tsan_atomic##N##_store(volatile T* a, T v, int) { __atomic_store_n(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API T __tsan_atomic##N##_exchange(volatile T* a, T v, int) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API T __tsan_atomic##N##_fetch_add(volatile T* a, T v, int) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API T __tsan_atomic##N##_fetch_sub(volatile T* a, T v, int) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API T __tsan_atomic##N##_fetch_and(volatile T* a, T v, int) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API T __tsan_atomic##N##_fetch_or(volatile T* a, T v, int) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API T __tsan_atomic##N##_fetch_xor(volatile T* a, T v, int) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API T __tsan_atomic##N##_fetch_nand(volatile T* a, T v, int) { return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" QN_EMU_API int __tsan_atomic##N##_compare_exchange_strong(volatile T* a, T* c, T v, int, int)         \
    {                                                                                                                  \
        return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                        \
    }                                                                                                                  \
    extern "C" QN_EMU_API int __tsan_atomic##N##_compare_exchange_weak(volatile T* a, T* c, T v, int, int)           \
    {                                                                                                                  \
        return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                        \
    }                                                                                                                  \
    extern "C" QN_EMU_API T __tsan_atomic##N##_compare_exchange_val(volatile T* a, T c, T v, int, int)               \
    {                                                                                                                  \
        __atomic_compare_exchange_n(a, &c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                              \
        return c;                                                                                                      \
    }
QN_TSAN_ATOMICS(8, unsigned char)
QN_TSAN_ATOMICS(16, unsigned short)
QN_TSAN_ATOMICS(32, unsigned int)
QN_TSAN_ATOMICS(64, unsigned long long)
#undef QN_TSAN_ATOMICS
extern "C" QN_EMU_API void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
extern "C" QN_EMU_API void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
