namespace QuantNative.Cuda;

/// <summary>Bytes a runtime has copied between host and device since it was created (or <see cref="Reset"/>): what
/// a loop moves per step is read from these, not estimated.</summary>
public sealed class TransferCounters
{
    private long _toDevice, _toHost;

    public long ToDevice => Interlocked.Read(ref _toDevice);
    public long ToHost => Interlocked.Read(ref _toHost);

    internal void HostToDevice(long bytes) => Interlocked.Add(ref _toDevice, bytes);
    internal void DeviceToHost(long bytes) => Interlocked.Add(ref _toHost, bytes);

    public void Reset()
    {
        Interlocked.Exchange(ref _toDevice, 0);
        Interlocked.Exchange(ref _toHost, 0);
    }
}
