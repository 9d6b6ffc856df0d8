using System.Runtime.InteropServices;
using QuantNative.Interop;

namespace QuantNative.Cuda;

/// <summary>
/// <see cref="ICudaRuntime"/> on the CPU: device memory is 256-byte aligned host memory, launches run the kernels
/// compiled into libqn_emulator.so (every family is built in, so <see cref="LoadModule"/> only checks the library),
/// GEMM is OpenBLAS's cblas_sgemm and SVD LAPACKE's sgesdd. Everything is synchronous.
/// </summary>
public sealed unsafe class EmulatedCudaRuntime : ICudaRuntime
{
    private readonly Dictionary<ulong, long> _allocations = new();
    private readonly Lock _gate = new();
    private bool _disposed;

    public EmulatedCudaRuntime() => Emulator.EnsureLoaded();

    public string DeviceName => $"CUDA emulator ({Environment.ProcessorCount} host threads)";

    public bool IsEmulated => true;

    public DevicePtr Allocate(long bytes)
    {
        if (bytes < 0) throw new QuantNativeException($"cannot allocate {bytes} bytes");
        void* p = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 256);
        lock (_gate) _allocations[(ulong)p] = bytes;
        return new DevicePtr((ulong)p);
    }

    public void Free(DevicePtr ptr)
    {
        lock (_gate)
            if (!_allocations.Remove(ptr.Address))
                throw new QuantNativeException($"free of {ptr}: not allocated by this runtime (or freed twice)");
        NativeMemory.AlignedFree((void*)ptr.Address);
    }

    public void CopyHostToDevice(DevicePtr dst, void* src, long bytes) =>
        Buffer.MemoryCopy(src, (void*)dst.Address, bytes, bytes);

    public void CopyDeviceToHost(void* dst, DevicePtr src, long bytes) =>
        Buffer.MemoryCopy((void*)src.Address, dst, bytes, bytes);

    public void CopyDeviceToDevice(DevicePtr dst, DevicePtr src, long bytes) =>
        Buffer.MemoryCopy((void*)src.Address, (void*)dst.Address, bytes, bytes);

    public void Memset(DevicePtr dst, byte value, long bytes) =>
        NativeMemory.Fill((void*)dst.Address, (nuint)bytes, value);

    public void LoadModule(string family) => Emulator.EnsureLoaded();

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, void** kernelParams) =>
        Emulator.Launch(kernel, (grid.X, grid.Y, grid.Z), (block.X, block.Y, block.Z), sharedMemBytes, kernelParams);

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc)
    {
        OpenBlas.EnsureLoaded();
        OpenBlas.cblas_sgemm(OpenBlas.CblasColMajor, transA ? OpenBlas.CblasTrans : OpenBlas.CblasNoTrans,
            transB ? OpenBlas.CblasTrans : OpenBlas.CblasNoTrans, m, n, k, alpha, (float*)a.Address, lda,
            (float*)b.Address, ldb, beta, (float*)c.Address, ldc);
    }

    public void Sgesvd(int m, int n, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr vt)
    {
        SvdShape.Check(m, n);
        Lapacke.EnsureLoaded();
        Lapacke.Check(Lapacke.LAPACKE_sgesdd(Lapacke.LAPACK_COL_MAJOR, (byte)'S', m, n, (float*)a.Address, m,
            (float*)s.Address, (float*)u.Address, m, (float*)vt.Address, n), $"LAPACKE_sgesdd({m}x{n})");
    }

    public void Synchronize() { }

    public double? TimeMilliseconds(Action work)
    {
        work();
        return null;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate)
        {
            foreach (var p in _allocations.Keys) NativeMemory.AlignedFree((void*)p);
            _allocations.Clear();
        }
    }
}

internal static class SvdShape
{
    public static void Check(int m, int n)
    {
        if (n < 1 || m < n)
            throw new QuantNativeException(
                $"SVD of a {m}x{n} matrix: expected m >= n >= 1 (pass the transpose of a wide matrix)");
    }
}
