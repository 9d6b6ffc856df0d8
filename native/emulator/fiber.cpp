// fiber.cpp — context switching for the emulator's fibers (one fiber per CUDA thread of a block).
#include "runtime.h"

#include <cstdlib>

#if defined(__x86_64__) && defined(__linux__)
#define QN_EMU_ASM_SWITCH 1
// qn_emu_switch_context(void** saveSp, void* loadSp): pushes the System V callee-saved registers and the SSE/x87
// control words on the current stack, stores the stack pointer in *saveSp, loads loadSp and pops the same frame.
extern "C" void qn_emu_switch_context(void** saveSp, void* loadSp);
asm(R"(
    .pushsection .text
    .globl qn_emu_switch_context
    .hidden qn_emu_switch_context
    .type qn_emu_switch_context, @function
    .p2align 4
qn_emu_switch_context:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $16, %rsp
    stmxcsr 8(%rsp)
    fnstcw (%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    fldcw (%rsp)
    ldmxcsr 8(%rsp)
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size qn_emu_switch_context, .-qn_emu_switch_context
    .popsection
)");
#else
#define QN_EMU_ASM_SWITCH 0
#endif

namespace qn::emu
{
bool assembly_switch_available() { return QN_EMU_ASM_SWITCH != 0; }

void fiber_prepare(FiberContext& ctx, void* base, std::size_t size, void (*entry)(), bool useUcontext)
{
#if QN_EMU_ASM_SWITCH
    if (!useUcontext)
    {
        // Frame popped by qn_emu_switch_context: [cw, mxcsr] [r15 r14 r13 r12 rbx rbp] [ret = entry] [0].
        // The return slot sits at a 16-byte boundary, so entry starts with rsp % 16 == 8, as after a call.
        auto top = (reinterpret_cast<std::uintptr_t>(base) + size) & ~static_cast<std::uintptr_t>(15);
        auto* sp = reinterpret_cast<std::uint64_t*>(top);
        *--sp = 0;                                               // entry's return address: entry never returns
        *--sp = reinterpret_cast<std::uint64_t>(entry);
        for (int i = 0; i < 6; ++i) *--sp = 0;                   // rbp rbx r12 r13 r14 r15
        *--sp = 0x00001f80ull;                                   // mxcsr (at 8(%rsp)): default, all masked
        *--sp = 0x037full;                                       // x87 control word (at (%rsp)): default
        ctx.sp = sp;
        return;
    }
#endif
    if (!ctx.ucInitialized)
    {
        getcontext(&ctx.uc);
        ctx.ucInitialized = true;
    }
    ctx.uc.uc_stack.ss_sp = base;
    ctx.uc.uc_stack.ss_size = size;
    ctx.uc.uc_link = nullptr;
    makecontext(&ctx.uc, entry, 0);
}

void fiber_switch(FiberContext& from, FiberContext& to, bool useUcontext)
{
#if QN_EMU_ASM_SWITCH
    if (!useUcontext)
    {
        qn_emu_switch_context(&from.sp, to.sp);
        return;
    }
#endif
    from.ucInitialized = true;
    if (swapcontext(&from.uc, &to.uc) != 0) std::abort();
}
} // namespace qn::emu
