using QuantNative.Cpu;
using QuantNative.Cuda;

namespace QuantNative.Benchmarks;

/// <summary>
/// `qn bench svd`: thin SVDs of random row-major [rows, cols] matrices through <see cref="DeviceSvd"/> (batched Jacobi
/// for ≤ 32×32, gesvd otherwise). On a GPU: the solver's time (CUDA events; the input is restored by a device copy
/// outside the timed region before each run), one warm-up, median of the runs. Everywhere: the result of the last run
/// checked on the host (reconstruction ‖W − U·diag(S)·Vᵀ‖_F/‖W‖_F and max |UᵀU − I|, |VᵀV − I|) on up to
/// <see cref="CheckedMatrices"/> matrices of the batch. On the emulator there are no timings.
/// </summary>
public static class SvdBenchmark
{
    public const int CheckedMatrices = 4;

    public sealed record Row(int Rows, int Cols, int Batch, DeviceSvdMethod Method, double? Ms, double Reconstruction,
        double Orthonormality, double Tolerance)
    {
        public bool Passed => Reconstruction <= Tolerance && Orthonormality <= Tolerance;
    }

    public sealed record Report(string Device, bool Timed, List<Row> Rows);

    /// <summary>
    /// The check's bound: the float32 SVDs are backward stable (errors a modest multiple of n·ε with ε = 6e-8; the tests
    /// measure ≤ 1.1e-6 at n ≤ 172 and hold 1e-5), and the check's own float32 products add √n·ε; so 1e-5, growing
    /// as 2e-8·n beyond n = 500 (2.2e-4 at 11008). A transposed or mispaired factor is off by O(1).
    /// </summary>
    public static double Tolerance(int rows, int cols) => Math.Max(1e-5, 2e-8 * Math.Max(rows, cols));

    public static Report Run(ICudaRuntime runtime, IReadOnlyList<WeightShape> shapes, int batch, int runs, int seed,
        Action<string>? progress = null)
    {
        if (runs < 1) throw new QuantNativeException($"--runs must be at least 1 (got {runs})");
        if (batch < 1) throw new QuantNativeException($"--batch must be at least 1 (got {batch})");
        var rng = new Random(seed);
        var rows = new List<Row>();
        foreach (var shape in shapes)
        {
            int r = shape.N, c = shape.K;
            progress?.Invoke($"{r}x{c} × {batch}");
            var w = new float[(long)batch * r * c];
            for (long i = 0; i < w.LongLength; i++) w[i] = (float)(2 * rng.NextDouble() - 1);
            using var job = new DeviceSvdJob(runtime, w, batch, r, c);
            double? ms = null;
            if (!runtime.IsEmulated)
            {
                job.Run();
                var times = new double[runs];
                for (int i = 0; i < runs; i++)
                {
                    job.Restore();
                    times[i] = runtime.TimeMilliseconds(job.Solve) ?? double.NaN;
                }
                Array.Sort(times);
                ms = runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
            }
            else job.Run();
            var results = job.Download();
            double rec = 0, orth = 0;
            for (int j = 0; j < Math.Min(batch, CheckedMatrices); j++)
            {
                var wj = w.AsSpan((int)((long)j * r * c), r * c);
                rec = Math.Max(rec, ReconstructionError(results[j], wj));
                orth = Math.Max(orth, Math.Max(OrthonormalityError(Svd.Transpose(results[j].Ut, results[j].Rank, r), r, results[j].Rank),
                    OrthonormalityError(Svd.Transpose(results[j].Vt, results[j].Rank, c), c, results[j].Rank)));
            }
            rows.Add(new Row(r, c, batch, job.Method, ms, rec, orth, Tolerance(r, c)));
        }
        return new Report(runtime.DeviceName, !runtime.IsEmulated, rows);
    }

    /// <summary>‖W − U·diag(S)·Vᵀ‖_F / ‖W‖_F, the product by a float32 GEMM, the norms in double.</summary>
    public static double ReconstructionError(SvdFactors svd, ReadOnlySpan<float> w)
    {
        int r = svd.Rank;
        var sut = (float[])svd.Ut.Clone(); // diag(S)·Uᵀ [r, rows]
        for (long i = 0; i < sut.LongLength; i++) sut[i] *= svd.S[i / svd.Rows];
        var product = new float[(long)svd.Rows * svd.Cols];
        Gemm.Dense(true, false, sut, svd.Vt, product, svd.Rows, svd.Cols, r, 1f); // (diag(S)·Uᵀ)ᵀ·Vᵀ
        double err = 0, norm = 0;
        for (int i = 0; i < product.Length; i++)
        {
            double d = w[i] - (double)product[i];
            err += d * d;
            norm += (double)w[i] * w[i];
        }
        return Math.Sqrt(err / Math.Max(norm, double.Epsilon));
    }

    /// <summary>max |QᵀQ − I| of a row-major [rows, r] Q (the product by a float32 GEMM).</summary>
    public static double OrthonormalityError(float[] q, int rows, int r)
    {
        var qt = Svd.Transpose(q, rows, r);
        var g = new float[(long)r * r];
        Gemm.MatMulTransB<float>(qt, qt, g, r, r, rows);
        double worst = 0;
        for (int a = 0; a < r; a++)
        for (int b = 0; b < r; b++)
            worst = Math.Max(worst, Math.Abs(g[(long)a * r + b] - (a == b ? 1.0 : 0.0)));
        return worst;
    }
}
