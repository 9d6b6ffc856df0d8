using QuantNative.Cpu;

namespace QuantNative.Backends;

/// <summary>Where compute runs: the C# CPU engine, a GPU through the CUDA driver, or the CUDA backend on the CPU
/// emulator (the CLI's --device cpu|cuda|emulate).</summary>
public enum DeviceKind
{
    Cpu,
    Cuda,
    Emulate,
}

/// <summary>
/// A one-dimensional buffer of a backend: managed memory on the CPU backend, device memory on the CUDA backend. Ops
/// take buffers of their own backend only.
/// </summary>
public abstract class BackendBuffer<T> : IDisposable where T : unmanaged
{
    protected BackendBuffer(IBackend owner, long length)
    {
        Owner = owner;
        Length = length;
    }

    public IBackend Owner { get; }
    public long Length { get; }

    /// <summary>Copies <paramref name="source"/> (exactly <see cref="Length"/> elements) into the buffer.</summary>
    public abstract void Upload(ReadOnlySpan<T> source);

    /// <summary>Copies the buffer into <paramref name="destination"/> (exactly <see cref="Length"/> elements).</summary>
    public abstract void Download(Span<T> destination);

    public T[] ToArray()
    {
        var a = new T[Length];
        Download(a);
        return a;
    }

    public abstract void Dispose();

    protected void CheckLength(int length, string what)
    {
        if (length != Length)
            throw new QuantNativeException($"{what}: {length} elements for a buffer of {Length}");
    }
}

/// <summary>The LWC forward's saved state for the backward, per group [rows, groups]: s, z, max(w), min(w).</summary>
public sealed record LwcSaved(
    BackendBuffer<float> Scale, BackendBuffer<float> Zero, BackendBuffer<float> Max, BackendBuffer<float> Min)
    : IDisposable
{
    public static LwcSaved Allocate(IBackend backend, LwcShape shape) => new(backend.Allocate<float>(shape.GroupCount),
        backend.Allocate<float>(shape.GroupCount), backend.Allocate<float>(shape.GroupCount),
        backend.Allocate<float>(shape.GroupCount));

    public void Dispose()
    {
        Scale.Dispose();
        Zero.Dispose();
        Max.Dispose();
        Min.Dispose();
    }
}

/// <summary>
/// The compute seam (DESIGN.md §3): what the training loop asks of a device: the fused LWC fake quantization here,
/// the block's ops (GEMM, RMSNorm, RoPE, attention, SwiGLU — forward and backward), MSE, copy and the AdamW step in
/// IBackend.Training.cs, all with the same conventions: buffers of this backend, the §9 argument order (forward:
/// outputs, saved state, inputs, parameters, sizes; backward: input gradients, parameter gradients, upstream gradient,
/// saved tensors, sizes), numeric constants as arguments, shapes checked before any work with messages naming them.
/// Launches may be asynchronous: <see cref="BackendBuffer{T}.Download"/> and <see cref="Synchronize"/> wait.
/// </summary>
public partial interface IBackend : IDisposable
{
    DeviceKind Kind { get; }

    /// <summary>A line for reports: "cpu", "cuda: NVIDIA H100 ...", "emulate: CUDA emulator (...)".</summary>
    string Description { get; }

    BackendBuffer<T> Allocate<T>(long length) where T : unmanaged;

    /// <summary>LWC fake quantization forward (§7.3): wq, codes [rows, cols]; saved [rows, groups]; w [rows, cols];
    /// u, l [rows, groups]. See <see cref="LwcFakeQuant.Forward"/>.</summary>
    void FakeQuantLwcForward(BackendBuffer<float> wq, BackendBuffer<byte> codes, LwcSaved saved,
        BackendBuffer<float> w, BackendBuffer<float> u, BackendBuffer<float> l, LwcShape shape, ScaleClamp clamp);

    /// <summary>LWC fake quantization backward (§7.3, SDE path): dW [rows, cols]; du, dl [rows, groups];
    /// dWq [rows, cols]; w, u, l and the forward's saved state. See <see cref="LwcFakeQuant.Backward"/>.</summary>
    void FakeQuantLwcBackward(BackendBuffer<float> dW, BackendBuffer<float> du, BackendBuffer<float> dl,
        BackendBuffer<float> dWq, BackendBuffer<float> w, BackendBuffer<float> u, BackendBuffer<float> l,
        LwcSaved saved, LwcShape shape, ScaleClamp clamp);

    void Synchronize();
}

/// <summary>Buffer-length checks shared by the backends (messages name the op, the shape and the tensor).</summary>
public static class BackendChecks
{
    public static void Lengths(string op, LwcShape shape, IBackend backend,
        params (string Name, long Length, IBackend Owner, long Expected)[] tensors)
    {
        foreach (var (name, length, owner, expected) in tensors)
        {
            if (!ReferenceEquals(owner, backend))
                throw new QuantNativeException($"{op} {shape}: {name} belongs to another backend ({owner.Description})");
            if (length != expected)
                throw new QuantNativeException(
                    $"{op} {shape}: {name} has {length} elements, expected {expected}");
        }
    }

    /// <summary>
    /// The block ops' check: each tensor (null: not wanted, skipped) belongs to <paramref name="backend"/> and holds at
    /// least the elements the op touches (buffers may be longer, sized for the longest window).
    /// </summary>
    public static void Require(string op, string shape, IBackend backend,
        params (string Name, long Length, IBackend? Owner, long Needed)[] tensors)
    {
        foreach (var (name, length, owner, needed) in tensors)
        {
            if (owner == null) continue;
            if (!ReferenceEquals(owner, backend))
                throw new QuantNativeException($"{op} {shape}: {name} belongs to another backend ({owner.Description})");
            if (length < needed)
                throw new QuantNativeException($"{op} {shape}: {name} has {length} elements, needs {needed}");
        }
    }

    /// <summary>A tensor for <see cref="Require"/>; a null buffer is skipped.</summary>
    public static (string, long, IBackend?, long) N<TE>(string name, BackendBuffer<TE>? b, long needed)
        where TE : unmanaged => (name, b?.Length ?? 0, b?.Owner, needed);

    /// <summary>Sizes must be positive (counts of rows, heads, ...): a message naming the op and the size.</summary>
    public static void Positive(string op, string shape, params (string Name, long Value)[] sizes)
    {
        foreach (var (name, value) in sizes)
            if (value < 1) throw new QuantNativeException($"{op} {shape}: {name} = {value}, expected >= 1");
    }

    public static (string, long, IBackend, long) T<TE>(string name, BackendBuffer<TE> b, long expected)
        where TE : unmanaged => (name, b.Length, b.Owner, expected);

    public static void ForwardLengths(string op, IBackend backend, BackendBuffer<float> wq, BackendBuffer<byte> codes,
        LwcSaved saved, BackendBuffer<float> w, BackendBuffer<float> u, BackendBuffer<float> l, LwcShape shape) =>
        Lengths(op, shape, backend, T("wq", wq, shape.Elements), T("codes", codes, shape.Elements),
            T("scale", saved.Scale, shape.GroupCount), T("zero", saved.Zero, shape.GroupCount),
            T("wmax", saved.Max, shape.GroupCount), T("wmin", saved.Min, shape.GroupCount),
            T("w", w, shape.Elements), T("u", u, shape.GroupCount), T("l", l, shape.GroupCount));

    public static void BackwardLengths(string op, IBackend backend, BackendBuffer<float> dW, BackendBuffer<float> du,
        BackendBuffer<float> dl, BackendBuffer<float> dWq, BackendBuffer<float> w, BackendBuffer<float> u,
        BackendBuffer<float> l, LwcSaved saved, LwcShape shape) =>
        Lengths(op, shape, backend, T("dW", dW, shape.Elements), T("du", du, shape.GroupCount),
            T("dl", dl, shape.GroupCount), T("dWq", dWq, shape.Elements), T("w", w, shape.Elements),
            T("u", u, shape.GroupCount), T("l", l, shape.GroupCount), T("scale", saved.Scale, shape.GroupCount),
            T("zero", saved.Zero, shape.GroupCount), T("wmax", saved.Max, shape.GroupCount),
            T("wmin", saved.Min, shape.GroupCount));
}
