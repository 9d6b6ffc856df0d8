using QuantNative.Backends;
using QuantNative.Cpu;

namespace QuantNative.Verification;

/// <summary>
/// The CPU backend (the reference) and a device backend (CUDA on a GPU or on the emulator) side by side: the same
/// inputs uploaded to both, outputs poisoned with NaN on both before an op runs, and the results compared with
/// <see cref="OpErrors"/>. Buffers it allocates are freed with it; the device backend is freed only when owned.
/// </summary>
public class DevicePair : IDisposable
{
    private readonly bool _ownsDevice;
    private readonly List<IDisposable> _buffers = [];

    public DevicePair(IBackend device, bool ownsDevice = true)
    {
        Device = device;
        _ownsDevice = ownsDevice;
    }

    public CpuBackend Cpu { get; } = new();
    public IBackend Device { get; }

    /// <summary>A tensor on both backends.</summary>
    public sealed record Tensor(BackendBuffer<float> OnCpu, BackendBuffer<float> OnDevice);

    /// <summary>An int32 tensor on both backends (SDE masks).</summary>
    public sealed record Ints(BackendBuffer<int> OnCpu, BackendBuffer<int> OnDevice);

    public Tensor Of(float[] values)
    {
        var a = Track(Cpu.Allocate<float>(values.Length));
        var b = Track(Device.Allocate<float>(values.Length));
        a.Upload(values);
        b.Upload(values);
        return new Tensor(a, b);
    }

    public Ints Of(int[] values)
    {
        var a = Track(Cpu.Allocate<int>(values.Length));
        var b = Track(Device.Allocate<int>(values.Length));
        a.Upload(values);
        b.Upload(values);
        return new Ints(a, b);
    }

    /// <summary>Uniform values in [lo, hi) (drawn in double, rounded to float).</summary>
    public Tensor Random(Random random, long n, double lo = -1, double hi = 1)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(lo + (hi - lo) * random.NextDouble());
        return Of(a);
    }

    /// <summary>NaN everywhere: an element the op forgets to write shows as an infinite error.</summary>
    public Tensor Poisoned(long n)
    {
        var a = new float[n];
        Array.Fill(a, float.NaN);
        return Of(a);
    }

    /// <summary>The op on each backend with its own buffers, the device's last.</summary>
    public void Run(Action<IBackend, Func<Tensor, BackendBuffer<float>>> op)
    {
        op(Cpu, t => t.OnCpu);
        op(Device, t => t.OnDevice);
        Device.Synchronize();
    }

    /// <summary>‖device − cpu‖/‖cpu‖ (<see cref="OpErrors.RelativeL2(ReadOnlySpan{float}, ReadOnlySpan{float})"/>).</summary>
    public static double RelativeError(Tensor t) => OpErrors.RelativeL2(t.OnDevice.ToArray(), t.OnCpu.ToArray());

    /// <summary>Elements whose bits differ between the two.</summary>
    public static int BitMismatches(Tensor t) => OpErrors.BitMismatches(t.OnDevice.ToArray(), t.OnCpu.ToArray());

    /// <summary>The device's rounding noise of a tensor that is exactly 0 on the CPU, relative to ‖scale‖ (infinite
    /// when the CPU's is not all zeros).</summary>
    public static double NoiseOfZero(Tensor t, Tensor scale) =>
        t.OnCpu.ToArray().All(v => v == 0) ? OpErrors.NoiseOfZero(t.OnDevice.ToArray(), scale.OnCpu.ToArray())
            : double.PositiveInfinity;

    private T Track<T>(T buffer) where T : IDisposable
    {
        _buffers.Add(buffer);
        return buffer;
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
        _buffers.Clear();
        if (_ownsDevice) Device.Dispose();
        Cpu.Dispose();
        GC.SuppressFinalize(this);
    }
}
