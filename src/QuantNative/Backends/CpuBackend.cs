using QuantNative.Quantization.Lwc;

namespace QuantNative.Backends;

/// <summary>The C# CPU engine: buffers are managed arrays, ops are the C# references (DESIGN.md §3).</summary>
public sealed class CpuBackend : IBackend
{
    public DeviceKind Kind => DeviceKind.Cpu;
    public string Description => $"cpu ({Environment.ProcessorCount} cores)";

    public BackendBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        if (length < 0 || length > Array.MaxLength)
            throw new QuantNativeException($"cpu backend: cannot allocate {length} elements");
        return new CpuBuffer<T>(this, length);
    }

    private static T[] A<T>(BackendBuffer<T> b) where T : unmanaged => ((CpuBuffer<T>)b).Data;

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

    private sealed class CpuBuffer<T>(IBackend owner, long length) : BackendBuffer<T>(owner, length)
        where T : unmanaged
    {
        public T[] Data { get; } = new T[length];

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
