using QuantNative.Cuda;

namespace QuantNative.Verification;

/// <summary>
/// A test hook for `qn test-backend`: a runtime that launches another kernel in place of a named one, so a test can
/// plant a deliberately wrong kernel (e.g. RoPE's backward, which rotates the other way, for its forward: the same
/// parameter list, different maths) and see the tool report FAIL. Read from QN_TEST_SWAP_KERNEL=name=replacement[,…];
/// without the variable the runtime is used as it is.
/// </summary>
public sealed unsafe class KernelSwappingRuntime(ICudaRuntime inner, IReadOnlyDictionary<string, string> swaps) : ICudaRuntime
{
    public const string Variable = "QN_TEST_SWAP_KERNEL";

    /// <summary>The swaps QN_TEST_SWAP_KERNEL asks for (empty without it).</summary>
    public static IReadOnlyDictionary<string, string> FromEnvironment()
    {
        var map = new Dictionary<string, string>();
        var value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(value)) return map;
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split('=');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new QuantNativeException($"{Variable}: '{item}': expected kernel=replacement");
            map[parts[0]] = parts[1];
        }
        return map;
    }

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

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args) =>
        inner.Launch(swaps.TryGetValue(kernel, out var other) ? other : kernel, grid, block, sharedMemBytes, args);

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
