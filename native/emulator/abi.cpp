// abi.cpp — the C ABI of libqn_emulator.so (qn_emulator_abi.h).
#include "qn_emulator_abi.h"

#include "racecheck.h"
#include "runtime.h"

namespace qn::emu
{
const char* kernel_name_at(std::size_t index);
}

namespace
{
using namespace qn::emu;

thread_local std::string t_lastError;

int fail(int status, std::string message)
{
    t_lastError = std::move(message);
    return status;
}

std::string size_list(const unsigned int* sizes, std::size_t count)
{
    std::string s = "(";
    for (std::size_t i = 0; i < count; ++i) s += format(i == 0 ? "%u" : ", %u", sizes[i]);
    return s + ")";
}

// The caller's argument list against the kernel's parameters: the count, then each argument's byte size.
int check_arguments(const Kernel& k, int count, const unsigned int* sizes)
{
    const std::size_t expected = k.paramSizes.size();
    if (count < 0 || (count > 0 && sizes == nullptr))
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("launch of '%s': paramCount is %d and paramSizes is %s: the sizes of the %d arguments are "
                           "needed to check them against the kernel's %zu parameters",
                           k.name.c_str(), count, sizes == nullptr ? "NULL" : "set", count, expected));
    if (static_cast<std::size_t>(count) != expected)
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("launch of '%s': %d arguments passed, the kernel takes %zu parameters of sizes %s "
                           "(arguments passed: sizes %s)",
                           k.name.c_str(), count, expected, size_list(k.paramSizes.data(), expected).c_str(),
                           size_list(sizes, static_cast<std::size_t>(count)).c_str()));
    for (std::size_t i = 0; i < expected; ++i)
        if (sizes[i] != k.paramSizes[i])
            return fail(QN_EMU_ERROR_INVALID_VALUE,
                        format("launch of '%s': argument %zu is %u bytes, parameter %zu of the kernel is %u bytes "
                               "(the kernel's parameter sizes %s, the arguments' %s)",
                               k.name.c_str(), i, sizes[i], i, k.paramSizes[i],
                               size_list(k.paramSizes.data(), expected).c_str(), size_list(sizes, expected).c_str()));
    return QN_EMU_SUCCESS;
}

int check_launch(const Kernel& k, const LaunchConfig& c)
{
    const dim3 g = c.grid, b = c.block;
    if (g.x == 0 || g.y == 0 || g.z == 0 || b.x == 0 || b.y == 0 || b.z == 0)
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("launch of '%s': grid (%u,%u,%u) and block (%u,%u,%u) must have every dimension >= 1",
                           k.name.c_str(), g.x, g.y, g.z, b.x, b.y, b.z));
    if (g.x > 2147483647u || g.y > 65535u || g.z > 65535u)
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("launch of '%s': grid (%u,%u,%u) exceeds the limits (2147483647, 65535, 65535)",
                           k.name.c_str(), g.x, g.y, g.z));
    const unsigned long long threads = static_cast<unsigned long long>(b.x) * b.y * b.z;
    if (b.x > 1024u || b.y > 1024u || b.z > 64u || threads > 1024u)
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("launch of '%s': block (%u,%u,%u) = %llu threads exceeds the limits (x, y <= 1024, "
                           "z <= 64, at most 1024 threads per block)",
                           k.name.c_str(), b.x, b.y, b.z, threads));
    if (c.sharedBytes > k.maxDynamicShared)
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("launch of '%s': %u bytes of dynamic shared memory exceed the kernel's limit of %u bytes "
                           "(raise it with qn_emu_set_max_dynamic_shared, up to %u, as cuFuncSetAttribute does on a GPU)",
                           k.name.c_str(), c.sharedBytes, k.maxDynamicShared, kMaxDynamicSharedOptIn));
    if (!k.paramSizes.empty())
    {
        if (c.args == nullptr)
            return fail(QN_EMU_ERROR_INVALID_VALUE,
                        format("launch of '%s': kernelParams is NULL but the kernel takes %zu parameters",
                               k.name.c_str(), k.paramSizes.size()));
        for (std::size_t i = 0; i < k.paramSizes.size(); ++i)
            if (c.args[i] == nullptr)
                return fail(QN_EMU_ERROR_INVALID_VALUE,
                            format("launch of '%s': kernelParams[%zu] is NULL", k.name.c_str(), i));
    }
    return QN_EMU_SUCCESS;
}

Kernel* lookup(const char* name, int& status)
{
    if (name == nullptr)
    {
        status = fail(QN_EMU_ERROR_INVALID_VALUE, "kernel name is NULL");
        return nullptr;
    }
    Kernel* k = find_kernel(name);
    if (k == nullptr)
    {
        status = fail(QN_EMU_ERROR_NOT_FOUND,
                      format("unknown kernel '%s': no kernel of that name is registered (%zu kernels are; is the "
                             "library that defines it loaded, and does its .cu file list it in QN_REGISTER_KERNELS?)",
                             name, kernel_count()));
        return nullptr;
    }
    if (!k->conflict.empty())
    {
        status = fail(QN_EMU_ERROR_INVALID_VALUE, k->conflict);
        return nullptr;
    }
    status = QN_EMU_SUCCESS;
    return k;
}
} // namespace

extern "C" {

QN_EMU_ABI int qn_emu_launch_kernel(const char* kernel, unsigned int gridX, unsigned int gridY, unsigned int gridZ,
                                    unsigned int blockX, unsigned int blockY, unsigned int blockZ,
                                    unsigned int sharedMemBytes, void** kernelParams, int paramCount,
                                    const unsigned int* paramSizes)
{
    t_lastError.clear();
    int status = QN_EMU_SUCCESS;
    Kernel* k = lookup(kernel, status);
    if (k == nullptr) return status;
    if ((status = check_arguments(*k, paramCount, paramSizes)) != QN_EMU_SUCCESS) return status;
    LaunchConfig config{dim3(gridX, gridY, gridZ), dim3(blockX, blockY, blockZ), sharedMemBytes, kernelParams};
    if ((status = check_launch(*k, config)) != QN_EMU_SUCCESS) return status;
    std::string error;
    if (!launch(*k, config, error)) return fail(QN_EMU_ERROR_LAUNCH_FAILED, error);
    return QN_EMU_SUCCESS;
}

QN_EMU_ABI const char* qn_emu_get_last_error(void) { return t_lastError.c_str(); }

QN_EMU_ABI int qn_emu_kernel_count(void) { return static_cast<int>(kernel_count()); }

QN_EMU_ABI const char* qn_emu_kernel_name(int index)
{
    return index < 0 ? nullptr : kernel_name_at(static_cast<std::size_t>(index));
}

QN_EMU_ABI int qn_emu_kernel_params(const char* kernel, int* count, unsigned int* sizes, int capacity)
{
    t_lastError.clear();
    int status = QN_EMU_SUCCESS;
    Kernel* k = lookup(kernel, status);
    if (k == nullptr) return status;
    if (count == nullptr) return fail(QN_EMU_ERROR_INVALID_VALUE, "qn_emu_kernel_params: count is NULL");
    *count = static_cast<int>(k->paramSizes.size());
    for (int i = 0; sizes != nullptr && i < capacity && i < *count; ++i) sizes[i] = k->paramSizes[static_cast<std::size_t>(i)];
    return QN_EMU_SUCCESS;
}

QN_EMU_ABI int qn_emu_set_max_dynamic_shared(const char* kernel, unsigned int bytes)
{
    t_lastError.clear();
    int status = QN_EMU_SUCCESS;
    Kernel* k = lookup(kernel, status);
    if (k == nullptr) return status;
    if (bytes > kMaxDynamicSharedOptIn)
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("'%s': %u bytes of dynamic shared memory exceed %u, the opt-in maximum of sm_86/sm_89",
                           kernel, bytes, kMaxDynamicSharedOptIn));
    k->maxDynamicShared = bytes;
    return QN_EMU_SUCCESS;
}

QN_EMU_ABI int qn_emu_set_option(const char* name, long long value)
{
    t_lastError.clear();
    const std::string n = name == nullptr ? "" : name;
    if (n == "host_threads" && value >= 0 && value <= 4096) set_host_threads(static_cast<int>(value));
    else if (n == "ucontext" && (value == 0 || value == 1)) set_use_ucontext(value == 1);
    else if (n == "stack_kb" && value >= 64 && value <= 65536) set_stack_bytes(static_cast<std::size_t>(value) * 1024);
    else if (n == "racecheck" && (value == 0 || value == 1)) set_racecheck(value == 1);
    else if (n == "schedule_seed" && value >= -1) set_schedule_seed(value);
    else
        return fail(QN_EMU_ERROR_INVALID_VALUE,
                    format("qn_emu_set_option: unknown option or value out of range: '%s' = %lld (options: "
                           "host_threads 0..4096, ucontext 0|1, stack_kb 64..65536, racecheck 0|1, schedule_seed -1 (thread "
                           "order) or a seed >= 0 (random order))",
                           n.c_str(), value));
    return QN_EMU_SUCCESS;
}

QN_EMU_ABI int qn_emu_get_option(const char* name, long long* value)
{
    t_lastError.clear();
    const std::string n = name == nullptr ? "" : name;
    if (value == nullptr) return fail(QN_EMU_ERROR_INVALID_VALUE, "qn_emu_get_option: value is NULL");
    if (n == "host_threads") *value = host_threads();
    else if (n == "ucontext") *value = use_ucontext() ? 1 : 0;
    else if (n == "stack_kb") *value = static_cast<long long>(stack_bytes() / 1024);
    else if (n == "racecheck") *value = racecheck_enabled() ? 1 : 0;
    else if (n == "schedule_seed") *value = schedule_seed();
    else return fail(QN_EMU_ERROR_INVALID_VALUE, format("qn_emu_get_option: unknown option '%s'", n.c_str()));
    return QN_EMU_SUCCESS;
}

} // extern "C"
