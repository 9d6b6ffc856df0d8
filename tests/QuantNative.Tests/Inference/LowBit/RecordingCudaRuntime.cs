using QuantNative.Cuda;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>An <see cref="ICudaRuntime"/> that forwards everything to another one and records the names of the
/// kernels launched, so a test can see which kernel a dispatch picked (and that it ran).</summary>
internal sealed unsafe class RecordingCudaRuntime(ICudaRuntime inner) : ICudaRuntime
{
    public List<string> Launched { get; } = [];

    public string DeviceName => inner.DeviceName;
    public bool IsEmulated => inner.IsEmulated;
    public TransferCounters Transfers => inner.Transfers;
    public DevicePtr Allocate(long bytes) => inner.Allocate(bytes);
    public void Free(DevicePtr ptr) => inner.Free(ptr);
    public void CopyHostToDevice(DevicePtr dst, void* src, long bytes) => inner.CopyHostToDevice(dst, src, bytes);
    public void CopyDeviceToHost(void* dst, DevicePtr src, long bytes) => inner.CopyDeviceToHost(dst, src, bytes);
    public void CopyDeviceToDevice(DevicePtr dst, DevicePtr src, long bytes) => inner.CopyDeviceToDevice(dst, src, bytes);
    public void Memset(DevicePtr dst, byte value, long bytes) => inner.Memset(dst, value, bytes);
    public void LoadModule(string family) => inner.LoadModule(family);

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args)
    {
        Launched.Add(kernel);
        inner.Launch(kernel, grid, block, sharedMemBytes, args);
    }

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc) =>
        inner.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public void GemmF16(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b,
        int ldb, float beta, DevicePtr c, int ldc, bool halfOutput) =>
        inner.GemmF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, halfOutput);

    public void Sgesvd(int m, int n, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr vt) => inner.Sgesvd(m, n, a, s, u, vt);

    public void SgesvdBatched(int m, int n, int batch, DevicePtr a, DevicePtr s, DevicePtr u, DevicePtr v) =>
        inner.SgesvdBatched(m, n, batch, a, s, u, v);
    public void Synchronize() => inner.Synchronize();
    public double? TimeMilliseconds(Action work) => inner.TimeMilliseconds(work);
    public void Dispose() => inner.Dispose();
}
