// registry.cpp — kernels registered by QN_REGISTER_KERNELS, by name.
#include "runtime.h"

#include <map>

namespace qn::emu
{
namespace
{
struct Registry
{
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<Kernel>> kernels;
};

Registry& registry()
{
    static Registry* r = new Registry(); // never destroyed: libraries unregister from it at unload
    return *r;
}

std::vector<std::string> split_names(const char* names)
{
    std::vector<std::string> out;
    std::string current;
    for (const char* p = names; ; ++p)
    {
        if (*p == ',' || *p == '\0')
        {
            std::size_t b = current.find_first_not_of(" \t\n");
            std::size_t e = current.find_last_not_of(" \t\n");
            out.push_back(b == std::string::npos ? std::string() : current.substr(b, e - b + 1));
            current.clear();
            if (*p == '\0') break;
        }
        else current += *p;
    }
    return out;
}
} // namespace

void register_kernels(const char* names, const char* file, const KernelEntry* entries, int count)
{
    auto list = split_names(names);
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (int i = 0; i < count && i < static_cast<int>(list.size()); ++i)
    {
        const std::string& name = list[static_cast<std::size_t>(i)];
        auto it = r.kernels.find(name);
        if (it != r.kernels.end())
        {
            if (it->second->fn != entries[i].fn)
                it->second->conflict = format("kernel '%s' is registered twice (%s and %s)", name.c_str(),
                                              it->second->file.c_str(), file);
            continue;
        }
        auto k = std::make_unique<Kernel>();
        k->name = name;
        k->file = file;
        k->fn = entries[i].fn;
        k->thunk = entries[i].thunk;
        k->paramSizes.assign(entries[i].paramSizes, entries[i].paramSizes + entries[i].paramCount);
        r.kernels.emplace(name, std::move(k));
    }
}

void unregister_kernels(const char* names, const KernelEntry* entries, int count)
{
    auto list = split_names(names);
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    for (int i = 0; i < count && i < static_cast<int>(list.size()); ++i)
    {
        auto it = r.kernels.find(list[static_cast<std::size_t>(i)]);
        if (it != r.kernels.end() && it->second->fn == entries[i].fn) r.kernels.erase(it);
    }
}

Kernel* find_kernel(const std::string& name)
{
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.kernels.find(name);
    return it == r.kernels.end() ? nullptr : it->second.get();
}

std::vector<std::string> kernel_names()
{
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    std::vector<std::string> names;
    for (const auto& [name, k] : r.kernels) names.push_back(name);
    return names;
}

std::size_t kernel_count()
{
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    return r.kernels.size();
}

// The name pointer handed out by qn_emu_kernel_name: owned by the registry entry.
const char* kernel_name_at(std::size_t index)
{
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    if (index >= r.kernels.size()) return nullptr;
    auto it = r.kernels.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(index));
    return it->first.c_str();
}
} // namespace qn::emu
