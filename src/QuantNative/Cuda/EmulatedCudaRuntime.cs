using System.Runtime.InteropServices;
using QuantNative.Interop;

namespace QuantNative.Cuda;

/// <summary>
/// <see cref="ICudaRuntime"/> on the CPU: device memory is 256-byte aligned host memory, launches run the kernels
/// compiled into libqn_emulator.so (every family is built in, so <see cref="LoadModule"/> only checks the library),
/// GEMM is OpenBLAS's cblas_sgemm (fp16 GEMM: the fp16 operands widened exactly to float32 first) and SVD LAPACKE's
/// sgesdd (batched: one call per matrix). Everything is synchronous.
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

    public TransferCounters Transfers { get; } = new();

    public void CopyHostToDevice(DevicePtr dst, void* src, long bytes)
    {
        Buffer.MemoryCopy(src, (void*)dst.Address, bytes, bytes);
        Transfers.HostToDevice(bytes);
    }

    public void CopyDeviceToHost(void* dst, DevicePtr src, long bytes)
    {
        Buffer.MemoryCopy((void*)src.Address, dst, bytes, bytes);
        Transfers.DeviceToHost(bytes);
    }

    public void CopyDeviceToDevice(DevicePtr dst, DevicePtr src, long bytes) =>
        Buffer.MemoryCopy((void*)src.Address, (void*)dst.Address, bytes, bytes);

    public void Memset(DevicePtr dst, byte value, long bytes) =>
        NativeMemory.Fill((void*)dst.Address, (nuint)bytes, value);

    public void LoadModule(string family) => Emulator.EnsureLoaded();

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args) =>
        Emulator.Launch(kernel, (grid.X, grid.Y, grid.Z), (block.X, block.Y, block.Z), sharedMemBytes, args.Pointers,
            args.Count, args.Sizes);

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

    public void SgesvdBatched(int m, int n, int batch, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr v)
    {
        SvdBatchShape.Check(m, n, batch);
        Lapacke.EnsureLoaded();
        int r = Math.Min(m, n);
        var vt = new float[n * n];
        for (int j = 0; j < batch; j++)
        {
            float* aj = (float*)a.Address + (long)j * m * n, vj = (float*)v.Address + (long)j * n * n;
            fixed (float* pvt = vt)
                Lapacke.Check(Lapacke.LAPACKE_sgesdd(Lapacke.LAPACK_COL_MAJOR, (byte)'A', m, n, aj, m,
                    (float*)s.Address + (long)j * r, (float*)u.Address + (long)j * m * m, m, pvt, n),
                    $"LAPACKE_sgesdd({m}x{n}, matrix {j} of {batch})");
            // gesvdj returns V, LAPACK Vᵀ: V(i, c) = Vᵀ(c, i), both column-major with ld n.
            for (int c = 0; c < n; c++)
            for (int i = 0; i < n; i++)
                vj[c * n + i] = vt[i * n + c];
        }
    }

    public void GemmF16(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc, bool halfOutput)
    {
        GemmF16Shape.Check(transA, transB, m, n, k, lda, ldb, ldc);
        // Widening fp16 to float32 is exact, so this is the float32 GEMM of the same values; only the order of the
        // float32 sums differs from cuBLAS.
        var af = Widen((Half*)a.Address, (long)lda * (transA ? m : k));
        var bf = Widen((Half*)b.Address, (long)ldb * (transB ? k : n));
        if (!halfOutput)
        {
            fixed (float* pa = af, pb = bf)
                Sgemm(transA, transB, m, n, k, alpha, new DevicePtr((ulong)pa), lda, new DevicePtr((ulong)pb), ldb, beta,
                    c, ldc);
            return;
        }
        var ch = (Half*)c.Address;
        var cf = Widen(ch, (long)ldc * n);
        fixed (float* pa = af, pb = bf, pc = cf)
            Sgemm(transA, transB, m, n, k, alpha, new DevicePtr((ulong)pa), lda, new DevicePtr((ulong)pb), ldb, beta,
                new DevicePtr((ulong)pc), ldc);
        for (int col = 0; col < n; col++)
        for (int row = 0; row < m; row++)
            ch[(long)col * ldc + row] = (Half)cf[(long)col * ldc + row];
    }

    private static float[] Widen(Half* p, long count)
    {
        var f = new float[count];
        for (long i = 0; i < count; i++) f[i] = (float)p[i];
        return f;
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
