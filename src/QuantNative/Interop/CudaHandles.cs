using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>
/// Owned CUDA objects as SafeHandles. Each remembers the (primary) context it was created in and makes it current on
/// the releasing thread first, so a handle released by the finalizer thread is released in the right context.
/// Release failures are swallowed (a release has no one to report to; the status is returned to the runtime).
/// </summary>
public abstract class CudaContextBoundHandle : SafeHandle
{
    protected CudaContextBoundHandle(IntPtr context) : base(IntPtr.Zero, true) => Context = context;

    public IntPtr Context { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected bool MakeContextCurrent() =>
        Context == IntPtr.Zero || CudaDriver.cuCtxSetCurrent(Context) == CudaDriver.CUDA_SUCCESS;

    internal void SetHandleValue(IntPtr value) => SetHandle(value);
}

/// <summary>A retained primary context of one device (cuDevicePrimaryCtxRetain / cuDevicePrimaryCtxRelease_v2).</summary>
public sealed class CudaPrimaryContextHandle : CudaContextBoundHandle
{
    public CudaPrimaryContextHandle(int device, IntPtr context) : base(IntPtr.Zero)
    {
        Device = device;
        SetHandle(context);
    }

    public int Device { get; }

    protected override bool ReleaseHandle() => CudaDriver.cuDevicePrimaryCtxRelease_v2(Device) == CudaDriver.CUDA_SUCCESS;
}

/// <summary>A loaded module (cuModuleLoadData / cuModuleUnload).</summary>
public sealed class CudaModuleHandle(IntPtr context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeContextCurrent() && CudaDriver.cuModuleUnload(handle) == 0;
}

/// <summary>A stream (cuStreamCreate / cuStreamDestroy_v2).</summary>
public sealed class CudaStreamHandle(IntPtr context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeContextCurrent() && CudaDriver.cuStreamDestroy_v2(handle) == 0;
}

/// <summary>An event (cuEventCreate / cuEventDestroy_v2).</summary>
public sealed class CudaEventHandle(IntPtr context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeContextCurrent() && CudaDriver.cuEventDestroy_v2(handle) == 0;
}

/// <summary>Device memory (cuMemAlloc_v2 / cuMemFree_v2); the CUdeviceptr is held in the handle.</summary>
public sealed class CudaDeviceMemoryHandle(IntPtr context, long bytes) : CudaContextBoundHandle(context)
{
    public long Bytes { get; } = bytes;

    public ulong Address => (ulong)handle;

    protected override bool ReleaseHandle() => MakeContextCurrent() && CudaDriver.cuMemFree_v2((ulong)handle) == 0;
}

/// <summary>A cuBLAS handle (cublasCreate_v2 / cublasDestroy_v2).</summary>
public sealed class CublasHandle(IntPtr context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeContextCurrent() && Cublas.cublasDestroy_v2(handle) == 0;
}

/// <summary>A cuSOLVER dense handle (cusolverDnCreate / cusolverDnDestroy).</summary>
public sealed class CusolverHandle(IntPtr context) : CudaContextBoundHandle(context)
{
    protected override bool ReleaseHandle() => MakeContextCurrent() && Cusolver.cusolverDnDestroy(handle) == 0;
}

/// <summary>Jacobi SVD parameters (cusolverDnCreateGesvdjInfo / cusolverDnDestroyGesvdjInfo).</summary>
public sealed class GesvdjInfoHandle() : CudaContextBoundHandle(IntPtr.Zero)
{
    protected override bool ReleaseHandle() => Cusolver.cusolverDnDestroyGesvdjInfo(handle) == 0;
}
