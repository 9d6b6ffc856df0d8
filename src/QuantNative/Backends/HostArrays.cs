namespace QuantNative.Backends;

/// <summary>
/// Host arrays on a backend the cheapest way it allows: on the CPU backend the array itself (<see cref="CpuBackend.Wrap"/>,
/// no copy: ops write the array), elsewhere a buffer holding a copy. The training epochs use it so that the CPU path
/// moves no data and a device path uploads once.
/// </summary>
public static class HostArrays
{
    /// <summary>A buffer over (CPU) or holding a copy of (device) <paramref name="array"/>.</summary>
    public static BackendBuffer<T> Bind<T>(IBackend backend, T[] array) where T : unmanaged
    {
        if (backend is CpuBackend cpu) return cpu.Wrap(array);
        var b = backend.Allocate<T>(array.LongLength);
        b.Upload(array);
        return b;
    }

    /// <summary>A new buffer of <paramref name="length"/> elements (to be written before it is read) with a host array that holds its values where
    /// that costs nothing: on the CPU backend the array the buffer wraps, elsewhere null (device memory only).</summary>
    public static (T[]? Host, BackendBuffer<T> Buffer) New<T>(IBackend backend, long length) where T : unmanaged
    {
        if (backend is CpuBackend cpu)
        {
            var array = new T[length];
            return (array, cpu.Wrap(array));
        }
        return (null, backend.Allocate<T>(length));
    }

    /// <summary>Copies <paramref name="buffer"/> back into <paramref name="array"/>; nothing to do when the buffer is
    /// the array (<see cref="Bind{T}"/> on the CPU).</summary>
    public static void Return<T>(BackendBuffer<T> buffer, T[] array) where T : unmanaged
    {
        if (buffer.Owner is not CpuBackend) buffer.Download(array);
    }
}
