using System.Runtime.CompilerServices;

namespace QuantNative.Backends;

/// <summary>
/// Counts the bytes of the backend buffers allocated on this thread while it is open (buffers that wrap an existing
/// array are not counted: they hold no memory of their own). Reports of memory use are read from it, so they are
/// counted from the buffers themselves rather than from formulas kept beside the code that allocates them.
/// </summary>
public sealed class BufferMeter : IDisposable
{
    [ThreadStatic] private static BufferMeter? _current;
    private readonly BufferMeter? _outer;

    private BufferMeter()
    {
        _outer = _current;
        _current = this;
    }

    /// <summary>Bytes allocated since <see cref="Start"/>.</summary>
    public long Bytes { get; private set; }

    public static BufferMeter Start() => new();

    /// <summary>Called by each backend when it allocates a buffer; counts in this meter and the ones it is nested in.</summary>
    internal static void Allocated<T>(long length) where T : unmanaged
    {
        for (var m = _current; m != null; m = m._outer) m.Bytes += length * Unsafe.SizeOf<T>();
    }

    public void Dispose()
    {
        if (_current == this) _current = _outer;
    }

    /// <summary>Bytes of host arrays (what a run holds outside any backend).</summary>
    public static long HostBytes(IEnumerable<Array?> arrays) =>
        arrays.Sum(a => a == null ? 0L : (long)Buffer.ByteLength(a));
}
