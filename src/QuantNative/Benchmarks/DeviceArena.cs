using QuantNative.Cuda;

namespace QuantNative.Benchmarks;

/// <summary>Device buffers of one benchmark case, all freed together (also when a case throws).</summary>
internal sealed unsafe class DeviceArena(ICudaRuntime runtime) : IDisposable
{
    private readonly List<DevicePtr> _buffers = new();
    private readonly List<IDisposable> _owned = new();

    public DevicePtr Allocate(long bytes)
    {
        var p = runtime.Allocate(bytes);
        _buffers.Add(p);
        return p;
    }

    public DevicePtr Upload<T>(T[] data) where T : unmanaged
    {
        var p = Allocate(data.LongLength * sizeof(T));
        fixed (T* d = data) runtime.CopyHostToDevice(p, d, data.LongLength * sizeof(T));
        return p;
    }

    public T[] Download<T>(DevicePtr p, long count) where T : unmanaged
    {
        var a = new T[count];
        fixed (T* d = a) runtime.CopyDeviceToHost(d, p, count * sizeof(T));
        return a;
    }

    public T Own<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        foreach (var p in _buffers) runtime.Free(p);
        _owned.Clear();
        _buffers.Clear();
    }
}
