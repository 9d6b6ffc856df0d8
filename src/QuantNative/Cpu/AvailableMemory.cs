namespace QuantNative.Cpu;

/// <summary>How much memory this process can still take: the kernel's MemAvailable, lowered to the cgroup's
/// remaining limit when the process runs in one (a container).</summary>
public static class AvailableMemory
{
    /// <summary>Bytes available, or null when the system does not say (not Linux).</summary>
    public static long? Bytes()
    {
        long? available = MemInfo("MemAvailable");
        if (ReadLong("/sys/fs/cgroup/memory.max") is { } max && ReadLong("/sys/fs/cgroup/memory.current") is { } current)
            available = Math.Min(available ?? long.MaxValue, Math.Max(0, max - current));
        return available;
    }

    private static long? MemInfo(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith(field + ":", StringComparison.Ordinal)
                    && long.TryParse(line[(field.Length + 1)..].Trim().Split(' ')[0], out long kib))
                    return kib * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    // memory.max holds "max" when there is no limit: that parses as no value.
    private static long? ReadLong(string path)
    {
        try
        {
            return File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), out long v) ? v : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
