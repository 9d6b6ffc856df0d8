using QuantNative.Cpu;

namespace QuantNative.Backends;

/// <summary>The C# CPU engine: buffers are managed arrays, ops are the C# references (DESIGN.md §3).</summary>
public sealed partial class CpuBackend : IBackend
{
    /// <summary>One instance for the array conveniences (TrainingBlock's array overloads, BlockActivations without a
    /// backend): the CPU backend holds no resources, so sharing it costs nothing.</summary>
    public static CpuBackend Shared { get; } = new();

    public DeviceKind Kind => DeviceKind.Cpu;
    public string Description => $"cpu ({Environment.ProcessorCount} cores)";

    public BackendBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        if (length < 0 || length > Array.MaxLength)
            throw new QuantNativeException($"cpu backend: cannot allocate {length} elements");
        return new CpuBuffer<T>(this, length);
    }

    /// <summary>A buffer over <paramref name="array"/> itself (no copy): ops on it read and write the array.</summary>
    public BackendBuffer<T> Wrap<T>(T[] array) where T : unmanaged => new CpuBuffer<T>(this, array);

    private static T[] A<T>(BackendBuffer<T> b) where T : unmanaged => ((CpuBuffer<T>)b).Data;

    private static T[]? AOrNull<T>(BackendBuffer<T>? b) where T : unmanaged => b == null ? null : A(b);

    public void FakeQuantLwcForward(BackendBuffer<float> wq, BackendBuffer<byte> codes, LwcSaved saved,
        BackendBuffer<float> w, BackendBuffer<float> u, BackendBuffer<float> l, LwcShape shape, ScaleClamp clamp)
    {
        BackendChecks.ForwardLengths("fake-quant LWC forward", this, wq, codes, saved, w, u, l, shape);
        LwcFakeQuant.Forward(A(wq), A(codes), A(saved.Scale), A(saved.Zero), A(saved.Max), A(saved.Min), A(w), A(u),
            A(l), shape, clamp);
    }

    public void FakeQuantLwcBackward(BackendBuffer<float> dW, BackendBuffer<float> du, BackendBuffer<float> dl,
        BackendBuffer<float> dWq, BackendBuffer<float> w, BackendBuffer<float> u, BackendBuffer<float> l,
        LwcSaved saved, LwcShape shape, ScaleClamp clamp)
    {
        BackendChecks.BackwardLengths("fake-quant LWC backward", this, dW, du, dl, dWq, w, u, l, saved, shape);
        LwcFakeQuant.Backward(A(dW), A(du), A(dl), A(dWq), A(w), A(u), A(l), A(saved.Scale), A(saved.Zero),
            A(saved.Max), A(saved.Min), shape, clamp);
    }

    public void Synchronize() { }

    public void Dispose() { }

    private sealed class CpuBuffer<T> : BackendBuffer<T> where T : unmanaged
    {
        public CpuBuffer(IBackend owner, long length) : base(owner, length)
        {
            Data = new T[length];
            BufferMeter.Allocated<T>(length);
        }

        public CpuBuffer(IBackend owner, T[] data) : base(owner, data.Length) => Data = data;

        public T[] Data { get; }

        public override void Upload(ReadOnlySpan<T> source)
        {
            CheckLength(source.Length, "upload");
            source.CopyTo(Data);
        }

        public override void Download(Span<T> destination)
        {
            CheckLength(destination.Length, "download");
            Data.CopyTo(destination);
        }

        public override void Dispose() { }
    }
}
