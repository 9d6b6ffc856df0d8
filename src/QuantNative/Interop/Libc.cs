using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>The C library's memory advice (Linux). Advice is a hint: a failing call changes performance, never
/// results, so callers ignore its status (the one exception to checking every native status; see
/// <see cref="DropPages"/>).</summary>
internal static unsafe partial class Libc
{
    private const int MadvDontNeed = 4; // Linux <sys/mman.h>

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* address, nuint length, int advice);

    /// <summary>
    /// Takes the pages wholly inside [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>)
    /// of a read-only file mapping out of this process: they stay in the page cache (a later read maps them again
    /// without touching the disk) but stop counting as this process's memory. For tensors copied out once (a block
    /// converted to fp32 for quantization), so reading a 13 GB checkpoint block by block does not grow the process by
    /// 13 GB. No effect off Linux.
    /// </summary>
    public static void DropPages(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        long page = Environment.SystemPageSize;
        long first = ((long)start + page - 1) / page * page, end = ((long)start + length) / page * page;
        if (end > first) _ = madvise((void*)first, (nuint)(end - first), MadvDontNeed); // a hint: see the class summary
    }
}
