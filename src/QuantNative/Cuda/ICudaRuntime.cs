namespace QuantNative.Cuda;

/// <summary>A device address (CUdeviceptr on a GPU, a host address on the emulator).</summary>
public readonly record struct DevicePtr(ulong Address)
{
    public bool IsNull => Address == 0;

    public DevicePtr Offset(long bytes) => new(Address + (ulong)bytes);

    public override string ToString() => $"0x{Address:x}";
}

/// <summary>Grid or block dimensions of a launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public override string ToString() => $"({X},{Y},{Z})";
}

/// <summary>
/// What the CUDA backend needs from a device (DESIGN.md §3): memory, copies, modules of kernels launched by name with
/// a <see cref="KernelArguments"/> (the <c>void**</c> array <c>cuLaunchKernel</c> takes, element i pointing to the value
/// of parameter i, and each value's size, which the emulator checks against the kernel's parameters), dense
/// GEMM and SVD, synchronization. Two implementations: <see cref="DriverCudaRuntime"/> (libcuda + the fatbins,
/// cuBLAS, cuSOLVER) and <see cref="EmulatedCudaRuntime"/> (host memory, the CPU emulator running the same kernels,
/// OpenBLAS/LAPACKE). Everything above this interface is the same code in tests and in production.
/// Matrices of <see cref="Sgemm"/> and <see cref="Sgesvd"/> are column-major (the BLAS/cuBLAS convention); a
/// row-major matrix is its transpose in column-major.
/// </summary>
public unsafe interface ICudaRuntime : IDisposable
{
    /// <summary>The device's name ("NVIDIA H100 80GB HBM3", or "CUDA emulator (N host threads)").</summary>
    string DeviceName { get; }

    bool IsEmulated { get; }

    /// <summary>Allocates <paramref name="bytes"/> (at least 256-byte aligned); contents undefined.</summary>
    /// <summary>Bytes copied host → device and device → host so far.</summary>
    TransferCounters Transfers { get; }

    DevicePtr Allocate(long bytes);

    /// <summary>Frees what <see cref="Allocate"/> returned; an unknown pointer is an error.</summary>
    void Free(DevicePtr ptr);

    void CopyHostToDevice(DevicePtr dst, void* src, long bytes);

    void CopyDeviceToHost(void* dst, DevicePtr src, long bytes);

    void CopyDeviceToDevice(DevicePtr dst, DevicePtr src, long bytes);

    void Memset(DevicePtr dst, byte value, long bytes);

    /// <summary>Loads the kernels of <c>kernels/&lt;family&gt;/</c> (the fatbin <c>&lt;family&gt;.fatbin</c> on a
    /// GPU); a missing module is an error naming the files tried.</summary>
    void LoadModule(string family);

    /// <summary>Launches a loaded kernel by name; an unknown name is an error naming the kernel. On the emulator an
    /// argument list that does not match the kernel's parameters (count, or any argument's size) is an error naming
    /// the kernel and the argument.</summary>
    void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args);

    /// <summary>C = alpha·op(A)·op(B) + beta·C, column-major float32, as cublasSgemm/cblas_sgemm.</summary>
    void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b, int ldb,
        float beta, DevicePtr c, int ldc);

    /// <summary>Thin SVD of the column-major m×n matrix A (m ≥ n; destroyed): S [n], U m×n (ld m), VT n×n (ld n).</summary>
    void Sgesvd(int m, int n, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr vt);

    /// <summary>
    /// SVD of <paramref name="batch"/> column-major m×n matrices, each m, n in 1..<see cref="SvdBatchShape.MaxDim"/>
    /// (cusolverDnSgesvdjBatched's limit), packed one after another (lda m; destroyed). Outputs packed the same way:
    /// S [batch, min(m, n)] descending, U [batch] m×m (ld m), V [batch] n×n (ld n) — V itself, not Vᵀ, as gesvdj
    /// returns it: A_j = U_j·Σ_j·V_jᵀ.
    /// </summary>
    void SgesvdBatched(int m, int n, int batch, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr v);

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C, column-major, A and B fp16, float32 accumulation (cublasGemmEx with
    /// CUBLAS_COMPUTE_32F), C fp16 (<paramref name="halfOutput"/>) or float32.
    /// </summary>
    void GemmF16(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b, int ldb,
        float beta, DevicePtr c, int ldc, bool halfOutput);

    /// <summary>Waits until all work issued so far has finished.</summary>
    void Synchronize();

    /// <summary>Times <paramref name="work"/> on the device (CUDA events around it) in milliseconds, or null where
    /// device timings mean nothing (the emulator).</summary>
    double? TimeMilliseconds(Action work);
}
