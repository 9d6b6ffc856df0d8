using NUnit.Framework;
using QuantNative.Cuda;

namespace QuantNative.Tests.Cuda;

/// <summary>The emulated fp16 GemmEx (the cuBLAS peer of the low-bit benchmarks) against a float64 loop over the same
/// fp16 values, for every transpose combination, float32 and fp16 output, with alpha and beta.</summary>
public unsafe class GemmF16Tests
{
    [TestCase(false, false, false)]
    [TestCase(true, false, false)]
    [TestCase(false, true, true)]
    [TestCase(true, true, true)]
    public void Emulated_GemmF16_MatchesFloat64(bool transA, bool transB, bool halfOutput)
    {
        int m = 5, n = 7, k = 19, lda = (transA ? k : m) + 1, ldb = (transB ? n : k) + 2, ldc = m + 3;
        var r = new Random(11);
        Half[] a = Enumerable.Range(0, lda * (transA ? m : k)).Select(_ => (Half)(2 * r.NextDouble() - 1)).ToArray();
        Half[] b = Enumerable.Range(0, ldb * (transB ? k : n)).Select(_ => (Half)(2 * r.NextDouble() - 1)).ToArray();
        float[] c0 = Enumerable.Range(0, ldc * n).Select(_ => (float)(Half)(2 * r.NextDouble() - 1)).ToArray();
        float alpha = 0.5f, beta = -2f;
        using var rt = new EmulatedCudaRuntime();
        var da = Upload(rt, a);
        var db = Upload(rt, b);
        var dc = halfOutput ? Upload(rt, c0.Select(v => (Half)v).ToArray()) : Upload(rt, c0);
        rt.GemmF16(transA, transB, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc, halfOutput);
        for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
        {
            double sum = 0;
            for (int t = 0; t < k; t++)
                sum += (double)(float)(transA ? a[i * lda + t] : a[t * lda + i]) *
                       (float)(transB ? b[t * ldb + j] : b[j * ldb + t]);
            double expected = alpha * sum + beta * c0[j * ldc + i];
            double actual = halfOutput ? (float)((Half*)dc.Address)[j * ldc + i] : ((float*)dc.Address)[j * ldc + i];
            // float32 sums of 19 products of |x| ≤ 1 (≤ 1.2e-6), then for fp16 output one rounding (2⁻¹¹ of ≤ 12).
            double tolerance = halfOutput ? 12.0 / 2048 : 1e-5;
            Assert.That(actual, Is.EqualTo(expected).Within(tolerance), $"C[{i}, {j}]");
        }
    }

    [Test]
    public void GemmF16_RefusesTooSmallLeadingDimensions()
    {
        using var rt = new EmulatedCudaRuntime();
        var e = Assert.Throws<QuantNativeException>(() =>
            rt.GemmF16(false, false, 4, 4, 4, 1, default, 3, default, 4, 0, default, 4, false))!;
        Assert.That(e.Message, Does.Contain("leading dimensions"));
    }

    private static DevicePtr Upload<T>(ICudaRuntime rt, T[] data) where T : unmanaged
    {
        var p = rt.Allocate(data.Length * sizeof(T));
        fixed (T* d = data) rt.CopyHostToDevice(p, d, data.Length * sizeof(T));
        return p;
    }
}
