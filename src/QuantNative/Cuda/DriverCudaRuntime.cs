using System.Runtime.InteropServices;
using QuantNative.Interop;

namespace QuantNative.Cuda;

/// <summary>No usable CUDA device: no driver library, a driver that fails to initialize, or no device.</summary>
public sealed class NoCudaDeviceException(string reason, string hint = "use --device cpu or --device emulate")
    : QuantNativeException($"no CUDA device: {reason}; {hint}")
{
    public string Reason { get; } = reason;
}

/// <summary>
/// <see cref="ICudaRuntime"/> on a GPU through the CUDA driver API: the device's primary context, one non-blocking
/// stream for every launch, copy and library call, modules loaded from the fatbins CMake builds
/// (<see cref="FatbinLocator"/>), cuBLAS for GEMM (float32 and fp16 GemmEx) and cuSOLVER for SVD (gesvd for one matrix, gesvdj batched for many small
/// ones), each created on first use.
/// Not thread-safe: one runtime per thread of work.
/// </summary>
public sealed unsafe class DriverCudaRuntime : ICudaRuntime
{
    private readonly CudaPrimaryContextHandle _context;
    private readonly CudaStreamHandle _stream;
    private readonly Dictionary<ulong, CudaDeviceMemoryHandle> _allocations = new();
    private readonly List<(string File, CudaModuleHandle Module)> _modules = new();
    private readonly Dictionary<string, IntPtr> _functions = new();
    private CublasHandle? _cublas;
    private CusolverHandle? _cusolver;

    public string DeviceName { get; }
    public int Device { get; }
    public bool IsEmulated => false;

    private DriverCudaRuntime(int device, string name, CudaPrimaryContextHandle context, CudaStreamHandle stream)
    {
        Device = device;
        DeviceName = name;
        _context = context;
        _stream = stream;
    }

    /// <summary>Opens device <paramref name="ordinal"/>, or throws <see cref="NoCudaDeviceException"/> in one
    /// sentence when there is no driver library, the driver does not initialize, or there is no such device.</summary>
    public static DriverCudaRuntime Create(int ordinal = 0) =>
        Create(ordinal, () => NativeLibraries.IsAvailable(NativeLibraries.Cuda));

    internal static DriverCudaRuntime Create(int ordinal, Func<bool> driverAvailable)
    {
        if (!driverAvailable())
            throw new NoCudaDeviceException("the NVIDIA driver library (libcuda.so.1 / nvcuda.dll) was not found");
        int status = CudaDriver.cuInit(0);
        if (status != CudaDriver.CUDA_SUCCESS)
            throw new NoCudaDeviceException(
                $"cuInit failed with {CudaDriver.ErrorName(status)} ({CudaDriver.ErrorString(status)})");
        int count;
        CudaDriver.Check(CudaDriver.cuDeviceGetCount(&count), "cuDeviceGetCount");
        if (count == 0) throw new NoCudaDeviceException("the driver reports 0 devices");
        if (ordinal < 0 || ordinal >= count)
            throw new NoCudaDeviceException($"device {ordinal} requested, the driver reports {count}");
        int device;
        CudaDriver.Check(CudaDriver.cuDeviceGet(&device, ordinal), $"cuDeviceGet({ordinal})");
        byte* name = stackalloc byte[256];
        CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        IntPtr ctx;
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
        var context = new CudaPrimaryContextHandle(device, ctx);
        try
        {
            CudaDriver.Check(CudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
            IntPtr s;
            CudaDriver.Check(CudaDriver.cuStreamCreate(&s, CudaDriver.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
            var stream = new CudaStreamHandle(ctx);
            stream.SetHandleValue(s);
            return new DriverCudaRuntime(device, Marshal.PtrToStringUTF8((IntPtr)name) ?? $"device {ordinal}",
                context, stream);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private IntPtr Ctx => _context.DangerousGetHandle();
    private IntPtr Stream => _stream.DangerousGetHandle();

    private void MakeCurrent() => CudaDriver.Check(CudaDriver.cuCtxSetCurrent(Ctx), "cuCtxSetCurrent");

    public int Attribute(int attribute)
    {
        int value;
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&value, attribute, Device), $"cuDeviceGetAttribute({attribute})");
        return value;
    }

    public DevicePtr Allocate(long bytes)
    {
        MakeCurrent();
        ulong p;
        CudaDriver.Check(CudaDriver.cuMemAlloc_v2(&p, (nuint)Math.Max(bytes, 1)), $"cuMemAlloc_v2({bytes} bytes)");
        var h = new CudaDeviceMemoryHandle(Ctx, bytes);
        h.SetHandleValue((IntPtr)(long)p);
        _allocations[p] = h;
        return new DevicePtr(p);
    }

    public void Free(DevicePtr ptr)
    {
        if (!_allocations.Remove(ptr.Address, out var h))
            throw new QuantNativeException($"free of {ptr}: not allocated by this runtime (or freed twice)");
        Synchronize();
        h.Dispose();
    }

    // Every copy is ordered on the runtime's stream like the launches (the blocking cuMemcpy*_v2 calls run on the legacy
    // default stream, which a non-blocking stream does not wait for). Copies with the host wait for the stream
    // afterwards, so managed buffers may be reused as soon as a copy returns. Device-to-device copies and memsets stay
    // asynchronous (so events around them time them).
    public TransferCounters Transfers { get; } = new();

    public void CopyHostToDevice(DevicePtr dst, void* src, long bytes)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(dst.Address, src, (nuint)bytes, Stream), "cuMemcpyHtoDAsync_v2");
        Synchronize();
        Transfers.HostToDevice(bytes);
    }

    public void CopyDeviceToHost(void* dst, DevicePtr src, long bytes)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(dst, src.Address, (nuint)bytes, Stream), "cuMemcpyDtoHAsync_v2");
        Synchronize();
        Transfers.DeviceToHost(bytes);
    }

    public void CopyDeviceToDevice(DevicePtr dst, DevicePtr src, long bytes)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync_v2(dst.Address, src.Address, (nuint)bytes, Stream),
            "cuMemcpyDtoDAsync_v2");
    }

    public void Memset(DevicePtr dst, byte value, long bytes)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemsetD8Async(dst.Address, value, (nuint)bytes, Stream), "cuMemsetD8Async");
    }

    public void LoadModule(string family)
    {
        string file = FatbinLocator.Find(family);
        if (_modules.Any(m => m.File == file)) return;
        MakeCurrent();
        byte[] image = File.ReadAllBytes(file);
        IntPtr module;
        fixed (byte* p = image)
            CudaDriver.Check(CudaDriver.cuModuleLoadData(&module, p), $"cuModuleLoadData({file})");
        var h = new CudaModuleHandle(Ctx);
        h.SetHandleValue(module);
        _modules.Add((file, h));
    }

    /// <summary>The kernel's CUfunction from the loaded modules, or an error naming the kernel and the modules.</summary>
    public IntPtr Function(string kernel)
    {
        if (_functions.TryGetValue(kernel, out var f)) return f;
        MakeCurrent();
        foreach (var (_, module) in _modules)
        {
            IntPtr fn;
            int status = CudaDriver.cuModuleGetFunction(&fn, module.DangerousGetHandle(), kernel);
            if (status == CudaDriver.CUDA_ERROR_NOT_FOUND) continue;
            CudaDriver.Check(status, $"cuModuleGetFunction({kernel})");
            _functions[kernel] = fn;
            return fn;
        }
        throw new QuantNativeException(_modules.Count == 0
            ? $"kernel {kernel}: no module loaded (LoadModule(family) first)"
            : $"kernel {kernel} is not in the loaded modules ({string.Join(", ", _modules.Select(m => m.File))})");
    }

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args)
    {
        var f = Function(kernel);
        CudaDriver.Check(CudaDriver.cuLaunchKernel(f, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
            sharedMemBytes, Stream, args.Pointers, null), $"cuLaunchKernel({kernel}, grid {grid}, block {block})");
    }

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc)
    {
        var h = CublasHandleForStream();
        Cublas.Check(Cublas.cublasSgemm_v2(h, transA ? Cublas.CUBLAS_OP_T : Cublas.CUBLAS_OP_N,
            transB ? Cublas.CUBLAS_OP_T : Cublas.CUBLAS_OP_N, m, n, k, &alpha, a.Address, lda, b.Address, ldb, &beta,
            c.Address, ldc), $"cublasSgemm_v2({m}x{n}x{k})");
    }

    public void Sgesvd(int m, int n, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr vt)
    {
        SvdShape.Check(m, n);
        var h = CusolverHandleForStream();
        int lwork;
        Cusolver.Check(Cusolver.cusolverDnSgesvd_bufferSize(h, m, n, &lwork), "cusolverDnSgesvd_bufferSize");
        var work = Allocate((long)lwork * sizeof(float) + 256);
        var info = work.Offset((long)lwork * sizeof(float));
        try
        {
            Cusolver.Check(Cusolver.cusolverDnSgesvd(h, (sbyte)'S', (sbyte)'S', m, n, a.Address, m, s.Address,
                u.Address, m, vt.Address, n, work.Address, lwork, 0, info.Address), $"cusolverDnSgesvd({m}x{n})");
            int devInfo;
            CopyDeviceToHost(&devInfo, info, sizeof(int));
            if (devInfo != 0)
                throw new QuantNativeException($"cusolverDnSgesvd({m}x{n}): devInfo = {devInfo} " +
                                               "(< 0: illegal argument; > 0: superdiagonals that did not converge)");
        }
        finally
        {
            Free(work);
        }
    }

    public void SgesvdBatched(int m, int n, int batch, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr v)
    {
        SvdBatchShape.Check(m, n, batch);
        var h = CusolverHandleForStream();
        string call = $"cusolverDnSgesvdjBatched({m}x{n}, batch {batch})";
        IntPtr p;
        Cusolver.Check(Cusolver.cusolverDnCreateGesvdjInfo(&p), "cusolverDnCreateGesvdjInfo");
        using var parameters = new GesvdjInfoHandle();
        parameters.SetHandleValue(p);
        // Default tolerance (machine precision) and sweeps (100); sorting stated explicitly since callers rely on it.
        Cusolver.Check(Cusolver.cusolverDnXgesvdjSetSortEig(p, 1), "cusolverDnXgesvdjSetSortEig");
        int lwork;
        Cusolver.Check(Cusolver.cusolverDnSgesvdjBatched_bufferSize(h, Cusolver.CUSOLVER_EIG_MODE_VECTOR, m, n,
            a.Address, m, s.Address, u.Address, m, v.Address, n, &lwork, p, batch), call + "_bufferSize");
        long workBytes = ((long)lwork * sizeof(float) + 255) / 256 * 256;
        var work = Allocate(workBytes + (long)batch * sizeof(int));
        var info = work.Offset(workBytes);
        try
        {
            Cusolver.Check(Cusolver.cusolverDnSgesvdjBatched(h, Cusolver.CUSOLVER_EIG_MODE_VECTOR, m, n, a.Address, m,
                s.Address, u.Address, m, v.Address, n, work.Address, lwork, info.Address, p, batch), call);
            var infos = new int[batch];
            fixed (int* pi = infos) CopyDeviceToHost(pi, info, (long)batch * sizeof(int));
            for (int j = 0; j < batch; j++)
                if (infos[j] != 0)
                    throw new QuantNativeException($"{call}: info[{j}] = {infos[j]} " +
                                                   "(< 0: illegal argument; > 0: matrix " + j +
                                                   " did not converge within the tolerance and sweeps)");
        }
        finally
        {
            Free(work);
        }
    }

    public void GemmF16(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc, bool halfOutput)
    {
        GemmF16Shape.Check(transA, transB, m, n, k, lda, ldb, ldc);
        var h = CublasHandleForStream();
        // CUBLAS_COMPUTE_32F: alpha and beta are float; accumulation in float32 as the low-bit kernels do.
        Cublas.Check(Cublas.cublasGemmEx(h, transA ? Cublas.CUBLAS_OP_T : Cublas.CUBLAS_OP_N,
            transB ? Cublas.CUBLAS_OP_T : Cublas.CUBLAS_OP_N, m, n, k, &alpha, a.Address, Cublas.CUDA_R_16F, lda,
            b.Address, Cublas.CUDA_R_16F, ldb, &beta, c.Address, halfOutput ? Cublas.CUDA_R_16F : Cublas.CUDA_R_32F,
            ldc, Cublas.CUBLAS_COMPUTE_32F, Cublas.CUBLAS_GEMM_DEFAULT), $"cublasGemmEx({m}x{n}x{k}, fp16)");
    }

    private IntPtr CublasHandleForStream()
    {
        if (_cublas == null)
        {
            Cublas.EnsureLoaded();
            MakeCurrent();
            IntPtr h;
            Cublas.Check(Cublas.cublasCreate_v2(&h), "cublasCreate_v2");
            _cublas = new CublasHandle(Ctx);
            _cublas.SetHandleValue(h);
            Cublas.Check(Cublas.cublasSetStream_v2(h, Stream), "cublasSetStream_v2");
        }
        return _cublas.DangerousGetHandle();
    }

    private IntPtr CusolverHandleForStream()
    {
        if (_cusolver == null)
        {
            Cusolver.EnsureLoaded();
            MakeCurrent();
            IntPtr h;
            Cusolver.Check(Cusolver.cusolverDnCreate(&h), "cusolverDnCreate");
            _cusolver = new CusolverHandle(Ctx);
            _cusolver.SetHandleValue(h);
            Cusolver.Check(Cusolver.cusolverDnSetStream(h, Stream), "cusolverDnSetStream");
        }
        return _cusolver.DangerousGetHandle();
    }

    public void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
    }

    public double? TimeMilliseconds(Action work)
    {
        MakeCurrent();
        IntPtr start, end;
        CudaDriver.Check(CudaDriver.cuEventCreate(&start, CudaDriver.CU_EVENT_DEFAULT), "cuEventCreate");
        using var startHandle = new CudaEventHandle(Ctx);
        startHandle.SetHandleValue(start);
        CudaDriver.Check(CudaDriver.cuEventCreate(&end, CudaDriver.CU_EVENT_DEFAULT), "cuEventCreate");
        using var endHandle = new CudaEventHandle(Ctx);
        endHandle.SetHandleValue(end);
        CudaDriver.Check(CudaDriver.cuEventRecord(start, Stream), "cuEventRecord");
        work();
        CudaDriver.Check(CudaDriver.cuEventRecord(end, Stream), "cuEventRecord");
        CudaDriver.Check(CudaDriver.cuEventSynchronize(end), "cuEventSynchronize");
        float ms;
        CudaDriver.Check(CudaDriver.cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime");
        return ms;
    }

    public void Dispose()
    {
        if (_context.IsClosed) return;
        try { CudaDriver.cuCtxSetCurrent(Ctx); CudaDriver.cuStreamSynchronize(Stream); }
        catch (CudaException) { }
        _cusolver?.Dispose();
        _cublas?.Dispose();
        foreach (var h in _allocations.Values) h.Dispose();
        _allocations.Clear();
        foreach (var (_, m) in _modules) m.Dispose();
        _modules.Clear();
        _functions.Clear();
        _stream.Dispose();
        _context.Dispose();
    }
}

/// <summary>
/// Where the fatbin of a kernel family is: <c>&lt;exe dir&gt;/kernels/</c>, <c>$QN_KERNEL_DIR</c>, then the
/// repository's <c>artifacts/kernels/</c> (development and tests).
/// </summary>
public static class FatbinLocator
{
    public static IEnumerable<string> Directories()
    {
        yield return Path.Combine(AppContext.BaseDirectory, "kernels");
        var env = Environment.GetEnvironmentVariable("QN_KERNEL_DIR");
        if (!string.IsNullOrEmpty(env)) yield return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "QuantNative.sln")))
            {
                yield return Path.Combine(dir.FullName, "artifacts", "kernels");
                yield break;
            }
    }

    public static string Find(string family) => Find(family, Directories());

    public static string Find(string family, IEnumerable<string> directories)
    {
        var tried = directories.Select(d => Path.Combine(d, family + ".fatbin")).ToList();
        return tried.FirstOrDefault(File.Exists) ?? throw new QuantNativeException(
            $"the fatbin of kernel family '{family}' was not found (tried {string.Join(", ", tried)}); " +
            "build it with ./build.sh --cuda (cmake -DQN_CUDA=ON)");
    }
}
