using QuantNative.Cpu;
using QuantNative.Cuda;

namespace QuantNative.Verification;

/// <summary>
/// The vendor-library calls of the CUDA runtime (cuBLAS Sgemm and GemmEx with fp16 inputs, cuSOLVER gesvd and batched
/// gesvdj) against float64 products and the CPU's LAPACK SVD. On the emulator the runtime answers them with OpenBLAS,
/// its own fp16 GEMM and LAPACKE, so the cases run there too and check the seam (layouts, transposes, leading
/// dimensions) rather than NVIDIA's libraries.
/// </summary>
public static unsafe class LibraryOpCases
{
    public static IEnumerable<OpCase> All()
    {
        foreach (var (m, n, k, ta, tb, large) in new[]
                 {
                     (5, 7, 19, false, false, false), (5, 7, 19, true, false, false), (17, 3, 64, false, true, false),
                     (64, 72, 256, true, true, false), (128, 512, 300, false, true, true),
                 })
        {
            string shape = $"m {m} n {n} k {k} {(ta ? "T" : "N")}{(tb ? "T" : "N")}";
            // β = 0 with C poisoned (cuBLAS does not read C then: an unwritten element shows), and β ≠ 0 once.
            yield return new OpCase("cublas-sgemm", shape + " β 0", c => Gemm(c, m, n, k, ta, tb, false, false, 0), large);
            yield return new OpCase("cublas-sgemm", shape + " β -2", c => Gemm(c, m, n, k, ta, tb, false, false, -2), large);
            yield return new OpCase("cublas-gemmex-f16", shape + " f32 out β -2", c => Gemm(c, m, n, k, ta, tb, true, false, -2), large);
            yield return new OpCase("cublas-gemmex-f16", shape + " f16 out β 0", c => Gemm(c, m, n, k, ta, tb, true, true, 0), large);
        }
        foreach (var (batch, rows, cols, method, large) in new[]
                 {
                     (1, 40, 17, DeviceSvdMethod.Gesvd, false), (1, 17, 40, DeviceSvdMethod.Gesvd, false),
                     (1, 172, 64, DeviceSvdMethod.Gesvd, false), (3, 17, 9, DeviceSvdMethod.BatchedJacobi, false),
                     (2, 32, 32, DeviceSvdMethod.BatchedJacobi, false), (1, 512, 256, DeviceSvdMethod.Gesvd, true),
                     (64, 32, 32, DeviceSvdMethod.BatchedJacobi, true),
                 })
            yield return new OpCase(method == DeviceSvdMethod.Gesvd ? "cusolver-gesvd" : "cusolver-gesvdj-batched",
                $"batch {batch} [{rows}, {cols}]", c => Svd(c, batch, rows, cols, method), large);
    }

    /// <summary>C = α·op(A)·op(B) + β·C, column-major with padded leading dimensions, against the float64 product of
    /// the same (fp16-rounded where the inputs are fp16) values, per output relative to Σ|a·b| + |β·c|.</summary>
    private static IReadOnlyList<OpCheck> Gemm(OpContext ctx, int m, int n, int k, bool transA, bool transB, bool half,
        bool halfOutput, float beta)
    {
        var r = ctx.Random;
        var rt = ctx.Runtime;
        int lda = (transA ? k : m) + 1, ldb = (transB ? n : k) + 2, ldc = m + 3;
        float Draw() => half ? (float)(Half)(2 * r.NextDouble() - 1) : (float)(2 * r.NextDouble() - 1);
        float[] a = Enumerable.Range(0, lda * (transA ? m : k)).Select(_ => Draw()).ToArray();
        float[] b = Enumerable.Range(0, ldb * (transB ? k : n)).Select(_ => Draw()).ToArray();
        float[] c0 = Enumerable.Range(0, ldc * n).Select(_ => beta == 0 ? float.NaN : (float)(Half)(2 * r.NextDouble() - 1)).ToArray();
        const float alpha = 0.5f;
        var expected = new float[m * n];
        var magnitudes = new double[m * n];
        for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
        {
            double sum = 0, abs = 0;
            for (int t = 0; t < k; t++)
            {
                double p = (double)(transA ? a[i * lda + t] : a[t * lda + i]) * (transB ? b[t * ldb + j] : b[j * ldb + t]);
                sum += p;
                abs += Math.Abs(p);
            }
            double cTerm = beta == 0 ? 0 : beta * c0[j * ldc + i];
            expected[j * m + i] = (float)(alpha * sum + cTerm);
            magnitudes[j * m + i] = Math.Abs(alpha) * abs + Math.Abs(cTerm);
        }
        var da = Upload(rt, a, half);
        var db = Upload(rt, b, half);
        var dc = Upload(rt, c0, halfOutput);
        try
        {
            if (half) rt.GemmF16(transA, transB, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc, halfOutput);
            else rt.Sgemm(transA, transB, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc);
            rt.Synchronize();
            var all = Download(rt, dc, ldc * n, halfOutput);
            var actual = new float[m * n];
            for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                actual[j * m + i] = all[j * ldc + i];
            double halfRel = halfOutput ? Tolerances.LowBitGemvHalfOutputRel : 0;
            return [new OpCheck("C", OpErrors.WorstSumRelative(actual, expected, magnitudes, halfRel),
                Tolerances.Float32ReorderedDotRel, "max |Δ|/Σ|a·b|")];
        }
        finally
        {
            rt.Free(da);
            rt.Free(db);
            rt.Free(dc);
        }
    }

    /// <summary>The device's thin SVD: reconstruction, orthonormal U and V, and its singular values against the CPU's
    /// LAPACK sgesdd on the same matrix.</summary>
    private static IReadOnlyList<OpCheck> Svd(OpContext c, int batch, int rows, int cols, DeviceSvdMethod method)
    {
        var w = new float[batch * rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(2 * c.Random.NextDouble() - 1);
        SvdFactors[] device;
        using (var job = new DeviceSvdJob(c.Runtime, w, batch, rows, cols, method))
        {
            job.Run();
            device = job.Download();
        }
        double rec = 0, ortho = 0, values = 0;
        for (int j = 0; j < batch; j++)
        {
            var wj = w.AsSpan(j * rows * cols, rows * cols);
            var d = device[j];
            var cpu = QuantNative.Cpu.Svd.Thin(wj, rows, cols);
            rec = Math.Max(rec, OpErrors.SvdReconstruction(d, wj));
            ortho = Math.Max(ortho, OpErrors.Orthonormality(QuantNative.Cpu.Svd.Transpose(d.Ut, d.Rank, d.Rows), d.Rows, d.Rank));
            ortho = Math.Max(ortho, OpErrors.Orthonormality(QuantNative.Cpu.Svd.Transpose(d.Vt, d.Rank, d.Cols), d.Cols, d.Rank));
            values = Math.Max(values, OpErrors.SingularValues(d.S, cpu.S));
        }
        return
        [
            new OpCheck("W = U·S·Vᵀ", rec, Tolerances.SvdReconstructionRel, "‖W − USVᵀ‖/‖W‖"),
            new OpCheck("UᵀU = VᵀV = I", ortho, Tolerances.SvdOrthonormalityAbs, "max |QᵀQ − I|"),
            new OpCheck("S", values, Tolerances.SvdSingularValuesRel, "max |ΔS|/S_max vs LAPACK"),
        ];
    }

    private static DevicePtr Upload(ICudaRuntime rt, float[] values, bool half)
    {
        if (!half)
        {
            var p = rt.Allocate(values.Length * 4L);
            fixed (float* v = values) rt.CopyHostToDevice(p, v, values.Length * 4L);
            return p;
        }
        var h = values.Select(v => (Half)v).ToArray();
        var q = rt.Allocate(h.Length * 2L);
        fixed (Half* v = h) rt.CopyHostToDevice(q, v, h.Length * 2L);
        return q;
    }

    private static float[] Download(ICudaRuntime rt, DevicePtr p, int count, bool half)
    {
        var o = new float[count];
        if (!half)
        {
            fixed (float* v = o) rt.CopyDeviceToHost(v, p, count * 4L);
            return o;
        }
        var h = new Half[count];
        fixed (Half* v = h) rt.CopyDeviceToHost(v, p, count * 2L);
        for (int i = 0; i < count; i++) o[i] = (float)h[i];
        return o;
    }
}
