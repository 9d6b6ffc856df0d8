using QuantNative.Backends;
using QuantNative.Cpu;

namespace QuantNative.Cuda;

/// <summary>
/// The CUDA backend (DESIGN.md §3): buffers in device memory, ops as launches of the kernels in kernels/ through an
/// <see cref="ICudaRuntime"/> — a GPU (<see cref="DriverCudaRuntime"/>) or the CPU emulator
/// (<see cref="EmulatedCudaRuntime"/>); the same code either way. Shapes are checked in C# before a launch
/// (<see cref="LwcLaunch"/>, <see cref="TrainLaunch"/>, <see cref="BackendChecks"/>). The fake-quant ops are here, the
/// training block's ops in CudaBackend.Training.cs.
/// </summary>
public sealed partial class CudaBackend : IBackend
{
    private readonly bool _ownsRuntime;

    public CudaBackend(ICudaRuntime runtime, bool ownsRuntime = true)
    {
        Runtime = runtime;
        _ownsRuntime = ownsRuntime;
        try
        {
            Runtime.LoadModule(LwcLaunch.Family);
        }
        catch
        {
            if (ownsRuntime) runtime.Dispose();
            throw;
        }
    }

    public ICudaRuntime Runtime { get; }

    public DeviceKind Kind => Runtime.IsEmulated ? DeviceKind.Emulate : DeviceKind.Cuda;

    public string Description => $"{(Runtime.IsEmulated ? "emulate" : "cuda")}: {Runtime.DeviceName}";

    /// <summary>Threads per block of the LWC kernels; null: <see cref="LwcLaunch.DefaultThreads"/>.</summary>
    public int? LwcThreads { get; set; }

    public BackendBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        if (length < 0) throw new QuantNativeException($"cuda backend: cannot allocate {length} elements");
        return new CudaBuffer<T>(this, length);
    }

    internal static DevicePtr P<T>(BackendBuffer<T> b) where T : unmanaged => ((CudaBuffer<T>)b).Ptr;

    public void FakeQuantLwcForward(BackendBuffer<float> wq, BackendBuffer<byte> codes, LwcSaved saved,
        BackendBuffer<float> w, BackendBuffer<float> u, BackendBuffer<float> l, LwcShape shape, ScaleClamp clamp)
    {
        BackendChecks.ForwardLengths(LwcLaunch.ForwardKernel, this, wq, codes, saved, w, u, l, shape);
        var (grid, block) = LwcLaunch.Plan(LwcLaunch.ForwardKernel, shape, LwcThreads);
        using var args = new KernelArguments(16);
        args.Add(P(wq)).Add(P(codes)).Add(P(saved.Scale)).Add(P(saved.Zero)).Add(P(saved.Max)).Add(P(saved.Min))
            .Add(P(w)).Add(P(u)).Add(P(l)).Add(shape.Rows).Add(shape.Cols).Add(shape.GroupLength).Add(shape.Bits)
            .Add((int)shape.Grid).Add(clamp.Min).Add(clamp.Max);
        Launch(LwcLaunch.ForwardKernel, grid, block, args);
    }

    public void FakeQuantLwcBackward(BackendBuffer<float> dW, BackendBuffer<float> du, BackendBuffer<float> dl,
        BackendBuffer<float> dWq, BackendBuffer<float> w, BackendBuffer<float> u, BackendBuffer<float> l,
        LwcSaved saved, LwcShape shape, ScaleClamp clamp)
    {
        BackendChecks.BackwardLengths(LwcLaunch.BackwardKernel, this, dW, du, dl, dWq, w, u, l, saved, shape);
        var (grid, block) = LwcLaunch.Plan(LwcLaunch.BackwardKernel, shape, LwcThreads);
        using var args = new KernelArguments(18);
        args.Add(P(dW)).Add(P(du)).Add(P(dl)).Add(P(dWq)).Add(P(w)).Add(P(u)).Add(P(l)).Add(P(saved.Scale))
            .Add(P(saved.Zero)).Add(P(saved.Max)).Add(P(saved.Min)).Add(shape.Rows).Add(shape.Cols)
            .Add(shape.GroupLength).Add(shape.Bits).Add((int)shape.Grid).Add(clamp.Min).Add(clamp.Max);
        Launch(LwcLaunch.BackwardKernel, grid, block, args);
    }

    private void Launch(string kernel, Dim3 grid, Dim3 block, KernelArguments args) =>
        Runtime.Launch(kernel, grid, block, 0, args);

    public void Synchronize() => Runtime.Synchronize();

    public void Dispose()
    {
        DisposeTrainingState();
        if (_ownsRuntime) Runtime.Dispose();
    }

    private sealed unsafe class CudaBuffer<T> : BackendBuffer<T> where T : unmanaged
    {
        private readonly CudaBackend _backend;
        private bool _disposed;

        public CudaBuffer(CudaBackend backend, long length) : base(backend, length)
        {
            _backend = backend;
            Ptr = backend.Runtime.Allocate(length * sizeof(T));
            BufferMeter.Allocated<T>(length);
        }

        public DevicePtr Ptr { get; }

        public override void Upload(ReadOnlySpan<T> source)
        {
            CheckLength(source.Length, "upload");
            fixed (T* p = source) _backend.Runtime.CopyHostToDevice(Ptr, p, Length * sizeof(T));
        }

        public override void Download(Span<T> destination)
        {
            CheckLength(destination.Length, "download");
            fixed (T* p = destination) _backend.Runtime.CopyDeviceToHost(p, Ptr, Length * sizeof(T));
        }

        public override void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _backend.Runtime.Free(Ptr);
        }
    }
}

/// <summary>Creates the backend for --device cpu|cuda|emulate.</summary>
public static class Backend
{
    public static IBackend Create(DeviceKind kind) => kind switch
    {
        DeviceKind.Cpu => new CpuBackend(),
        DeviceKind.Cuda => new CudaBackend(DriverCudaRuntime.Create()),
        DeviceKind.Emulate => new CudaBackend(new EmulatedCudaRuntime()),
        _ => throw new QuantNativeException($"unknown device {kind}"),
    };
}
