/* qn_emulator_abi.h — the C ABI of libqn_emulator.so, the CPU emulator of the project's CUDA kernels.
 *
 * Host memory stands in for device memory: pointers passed as kernel arguments are ordinary host pointers.
 * Every call returns a status (QN_EMU_SUCCESS or an error code); after a failure, qn_emu_get_last_error()
 * describes it (per calling thread, until that thread's next call). C# binds these names verbatim in
 * src/QuantNative/Interop/Emulator.cs.
 */
#ifndef QN_EMULATOR_ABI_H
#define QN_EMULATOR_ABI_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define QN_EMU_ABI __attribute__((visibility("default")))
#else
#define QN_EMU_ABI
#endif

enum
{
    QN_EMU_SUCCESS = 0,
    QN_EMU_ERROR_INVALID_VALUE = 1, /* bad launch configuration, NULL argument, unknown option */
    QN_EMU_ERROR_NOT_FOUND = 2,     /* no kernel registered under that name */
    QN_EMU_ERROR_LAUNCH_FAILED = 3  /* the kernel failed while running: divergent barrier, deadlock, trap, ... */
};

/* Runs `kernel` to completion on grid (gridX, gridY, gridZ) of blocks of (blockX, blockY, blockZ) threads with
 * `sharedMemBytes` of dynamic shared memory. `kernelParams` is cuLaunchKernel's array: kernelParams[i] points to
 * the value of parameter i (NULL is allowed only for a kernel without parameters). `paramCount` and `paramSizes`
 * say what the caller passes: how many values kernelParams points to and the byte size of each (paramSizes may be
 * NULL when paramCount is 0). Checks as a GPU does: each dimension >= 1, block x/y <= 1024, z <= 64, at most 1024
 * threads, grid y/z <= 65535, dynamic shared memory <= the kernel's limit (48 KiB unless raised by
 * qn_emu_set_max_dynamic_shared); and what a GPU cannot check: paramCount must be the kernel's number of
 * parameters and paramSizes[i] the size of parameter i, else QN_EMU_ERROR_INVALID_VALUE with an error naming the
 * kernel, the argument and both sizes (a wrong argument list fails every launch instead of running on garbage). */
QN_EMU_ABI int qn_emu_launch_kernel(const char* kernel, unsigned int gridX, unsigned int gridY, unsigned int gridZ,
                                    unsigned int blockX, unsigned int blockY, unsigned int blockZ,
                                    unsigned int sharedMemBytes, void** kernelParams, int paramCount,
                                    const unsigned int* paramSizes);

/* The last error of the calling thread ("" after a success). The pointer is valid until that thread's next call. */
QN_EMU_ABI const char* qn_emu_get_last_error(void);

/* Registered kernels, sorted by name: qn_emu_kernel_name(i) for 0 <= i < qn_emu_kernel_count(), NULL outside. */
QN_EMU_ABI int qn_emu_kernel_count(void);
QN_EMU_ABI const char* qn_emu_kernel_name(int index);

/* The number of parameters of a kernel and the byte size of each (up to `capacity` sizes are written). */
QN_EMU_ABI int qn_emu_kernel_params(const char* kernel, int* count, unsigned int* sizes, int capacity);

/* Raises (or lowers) a kernel's dynamic shared memory limit, as cuFuncSetAttribute(
 * CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) does: at most 101376 bytes (99 KiB, the smallest opt-in
 * maximum of the targeted architectures, sm_86/sm_89). */
QN_EMU_ABI int qn_emu_set_max_dynamic_shared(const char* kernel, unsigned int bytes);

/* Options: "host_threads" (host threads running blocks in parallel; 0 = default: $QN_EMU_THREADS or the number
 * of cores; 1 = deterministic, blocks in order), "ucontext" (1 = switch fibers with swapcontext instead of the
 * assembly switcher; default $QN_EMU_UCONTEXT), "stack_kb" (fiber stack size for fibers created later;
 * default $QN_EMU_STACK_KB or 256, at least 64), "racecheck" (1 = report shared-memory races, failing the launch;
 * default $QN_EMU_RACECHECK), "schedule_seed" (-1 = a block's threads run in thread order; a seed >= 0 = in a seeded
 * random order, fresh between barriers; default $QN_EMU_SCHEDULE = random:SEED or in-order).
 * qn_emu_get_option returns the value in effect. */
QN_EMU_ABI int qn_emu_set_option(const char* name, long long value);
QN_EMU_ABI int qn_emu_get_option(const char* name, long long* value);

#ifdef __cplusplus
}
#endif

#endif /* QN_EMULATOR_ABI_H */
