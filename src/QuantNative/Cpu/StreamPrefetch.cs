using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace QuantNative.Cpu;

/// <summary>
/// Software prefetch for the decode GEMVs, which stream every weight from memory once per token. Without it the int8
/// W4 kernel read 6.3 GB/s on one core of this machine where a plain read loop reads 17 GB/s and the same kernel on
/// cache-resident weights 14.6 GB/s: the hardware prefetcher did not run far enough ahead of a loop that also spends
/// cycles on every byte, so the memory waits and the arithmetic added up instead of overlapping. Asking for the line
/// <see cref="Distance"/> bytes ahead of the one being read makes them overlap (docs/BENCHMARKS.md, "Prefetching the
/// decode GEMV's weights"). A prefetch never faults, so reading past the end of an array or mapping is harmless.
/// </summary>
public static unsafe class StreamPrefetch
{
    /// <summary>Bytes ahead of the current read: 8 KiB (eight 1 KiB W4 rows of 2048 values), measured against 4 and
    /// 16 KiB on this machine (the same within noise at 16 KiB, slower at 4 KiB on one thread).</summary>
    public const int Distance = 8192;

    /// <summary>Asks for the cache line <see cref="Distance"/> bytes after <paramref name="current"/> (into every level).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Ahead(void* current)
    {
        if (Sse.IsSupported) Sse.Prefetch0((byte*)current + Distance);
    }
}
