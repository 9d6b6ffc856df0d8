using QuantNative.Cuda;

namespace QuantNative.Inference.Device;

/// <summary>A device allocation that grows on demand and keeps its size between calls (a session's workspace).</summary>
public sealed unsafe class DeviceBuffer(ICudaRuntime runtime) : IDisposable
{
    public DevicePtr Ptr { get; private set; }
    public long Bytes { get; private set; }

    /// <summary>At least <paramref name="bytes"/> (contents undefined after a growth).</summary>
    public DevicePtr Ensure(long bytes)
    {
        if (bytes <= Bytes) return Ptr;
        Dispose();
        Ptr = runtime.Allocate(Math.Max(bytes, 1));
        Bytes = bytes;
        return Ptr;
    }

    /// <summary>Holds a copy of <paramref name="host"/> (grown to fit).</summary>
    public DevicePtr Fill<T>(ReadOnlySpan<T> host) where T : unmanaged
    {
        long bytes = (long)host.Length * sizeof(T);
        var d = Ensure(bytes);
        fixed (T* p = host) runtime.CopyHostToDevice(d, p, bytes);
        return d;
    }

    /// <summary>A new allocation holding a copy of <paramref name="host"/> (the caller frees it).</summary>
    public static DevicePtr Upload<T>(ICudaRuntime runtime, ReadOnlySpan<T> host) where T : unmanaged
    {
        long bytes = (long)host.Length * sizeof(T);
        var d = runtime.Allocate(Math.Max(bytes, 1));
        try
        {
            fixed (T* p = host) runtime.CopyHostToDevice(d, p, bytes);
        }
        catch
        {
            runtime.Free(d);
            throw;
        }
        return d;
    }

    public void Dispose()
    {
        if (!Ptr.IsNull) runtime.Free(Ptr);
        Ptr = default;
        Bytes = 0;
    }
}
