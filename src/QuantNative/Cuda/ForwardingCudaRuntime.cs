namespace QuantNative.Cuda;

/// <summary>An <see cref="ICudaRuntime"/> that hands every call to another one; a subclass overrides what it watches
/// or changes (the tests record the kernels launched, `qn test-backend`'s hook swaps one for a wrong one).</summary>
public abstract unsafe class ForwardingCudaRuntime(ICudaRuntime inner) : ICudaRuntime
{
    protected ICudaRuntime Inner { get; } = inner;

    public string DeviceName => Inner.DeviceName;
    public bool IsEmulated => Inner.IsEmulated;
    public TransferCounters Transfers => Inner.Transfers;
    public DevicePtr Allocate(long bytes) => Inner.Allocate(bytes);
    public void Free(DevicePtr ptr) => Inner.Free(ptr);
    public void CopyHostToDevice(DevicePtr dst, void* src, long bytes) => Inner.CopyHostToDevice(dst, src, bytes);
    public void CopyDeviceToHost(void* dst, DevicePtr src, long bytes) => Inner.CopyDeviceToHost(dst, src, bytes);
    public void CopyDeviceToDevice(DevicePtr dst, DevicePtr src, long bytes) => Inner.CopyDeviceToDevice(dst, src, bytes);
    public void Memset(DevicePtr dst, byte value, long bytes) => Inner.Memset(dst, value, bytes);
    public void LoadModule(string family) => Inner.LoadModule(family);

    public virtual void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args) =>
        Inner.Launch(kernel, grid, block, sharedMemBytes, args);

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc) =>
        Inner.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public void GemmF16(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc, bool halfOutput) =>
        Inner.GemmF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, halfOutput);

    public void Sgesvd(int m, int n, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr vt) => Inner.Sgesvd(m, n, a, s, u, vt);

    public void SgesvdBatched(int m, int n, int batch, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr v) =>
        Inner.SgesvdBatched(m, n, batch, a, s, u, v);

    public void Synchronize() => Inner.Synchronize();
    public double? TimeMilliseconds(Action work) => Inner.TimeMilliseconds(work);

    public void Dispose()
    {
        Inner.Dispose();
        GC.SuppressFinalize(this);
    }
}
