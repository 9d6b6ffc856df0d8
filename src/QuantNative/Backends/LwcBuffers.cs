using QuantNative.Cpu;

namespace QuantNative.Backends;

/// <summary>Every buffer of one LWC fake-quantization forward and backward on a backend (inputs w, u, l, dŴ; outputs
/// ŵ, codes, the saved state, dW, du, dl), allocated together and freed together; the benchmark and the device check
/// both run the op through it.</summary>
public sealed class LwcBuffers : IDisposable
{
    private readonly IBackend _backend;

    public LwcBuffers(IBackend backend, LwcShape shape)
    {
        _backend = backend;
        Shape = shape;
        W = backend.Allocate<float>(shape.Elements);
        U = backend.Allocate<float>(shape.GroupCount);
        L = backend.Allocate<float>(shape.GroupCount);
        DWq = backend.Allocate<float>(shape.Elements);
        Wq = backend.Allocate<float>(shape.Elements);
        Codes = backend.Allocate<byte>(shape.Elements);
        DW = backend.Allocate<float>(shape.Elements);
        Du = backend.Allocate<float>(shape.GroupCount);
        Dl = backend.Allocate<float>(shape.GroupCount);
        Saved = LwcSaved.Allocate(backend, shape);
    }

    public LwcShape Shape { get; }
    public BackendBuffer<float> W { get; }
    public BackendBuffer<float> U { get; }
    public BackendBuffer<float> L { get; }
    public BackendBuffer<float> DWq { get; }
    public BackendBuffer<float> Wq { get; }
    public BackendBuffer<byte> Codes { get; }
    public BackendBuffer<float> DW { get; }
    public BackendBuffer<float> Du { get; }
    public BackendBuffer<float> Dl { get; }
    public LwcSaved Saved { get; }

    public void Forward(ScaleClamp clamp) => _backend.FakeQuantLwcForward(Wq, Codes, Saved, W, U, L, Shape, clamp);

    public void Backward(ScaleClamp clamp) => _backend.FakeQuantLwcBackward(DW, Du, Dl, DWq, W, U, L, Saved, Shape, clamp);

    public void Dispose()
    {
        foreach (var b in new IDisposable[] { W, U, L, DWq, Wq, Codes, DW, Du, Dl, Saved }) b.Dispose();
    }
}
