// runtime.h — internals of the CUDA emulator shared by its .cpp files (not included by kernels).
#pragma once

#include "qn_emulator.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <ucontext.h>

namespace qn::emu
{
// ---------------------------------------------------------------------------------------------------------------
// Fibers: a stack and a saved context. Two interchangeable switchers: a few instructions of assembly that save
// the callee-saved registers (x86-64 System V), and ucontext (getcontext/makecontext/swapcontext), which is
// portable but makes a system call per switch (about 1 us on this project's machines).
// ---------------------------------------------------------------------------------------------------------------
struct FiberContext
{
    void* sp = nullptr;     // assembly switcher: the saved stack pointer
    ucontext_t uc{};        // ucontext switcher
    bool ucInitialized = false;
};

bool assembly_switch_available();
// Prepares `ctx` to start `entry` on the stack [base, base + size) at the next switch into it.
void fiber_prepare(FiberContext& ctx, void* base, std::size_t size, void (*entry)(), bool useUcontext);
// Saves the running context into `from` and resumes `to`.
void fiber_switch(FiberContext& from, FiberContext& to, bool useUcontext);

// ---------------------------------------------------------------------------------------------------------------
// Kernels registered by QN_REGISTER_KERNELS
// ---------------------------------------------------------------------------------------------------------------
struct Kernel
{
    std::string name;
    std::string file;
    void* fn = nullptr;
    KernelThunk thunk = nullptr;
    std::vector<unsigned int> paramSizes;
    unsigned int maxDynamicShared = 48 * 1024;
    std::string conflict; // non-empty when two files register the same name
};

// Returns the kernel or nullptr; the pointer stays valid until its library unloads.
Kernel* find_kernel(const std::string& name);
std::vector<std::string> kernel_names();
std::size_t kernel_count();

// ---------------------------------------------------------------------------------------------------------------
// Launch
// ---------------------------------------------------------------------------------------------------------------
constexpr unsigned int kDefaultMaxDynamicShared = 48 * 1024;
// The largest opt-in dynamic shared memory of every architecture the fatbins target (sm_86/sm_89: 99 KiB).
constexpr unsigned int kMaxDynamicSharedOptIn = 99 * 1024;

struct LaunchConfig
{
    dim3 grid;
    dim3 block;
    unsigned int sharedBytes = 0;
    void** args = nullptr;
};

// Runs the kernel to completion; on failure returns false and sets `error`.
bool launch(const Kernel& kernel, const LaunchConfig& config, std::string& error);

// Options (qn_emu_set_option): host threads for blocks (0 = default), switcher, fiber stack size.
int host_threads();
void set_host_threads(int n);
bool use_ucontext();
void set_use_ucontext(bool on);
std::size_t stack_bytes();
void set_stack_bytes(std::size_t bytes);

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
} // namespace qn::emu
