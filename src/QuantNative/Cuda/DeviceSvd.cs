using QuantNative.Cpu;

namespace QuantNative.Cuda;

/// <summary>Which cuSOLVER routine a <see cref="DeviceSvd"/> uses (DESIGN.md §8).</summary>
public enum DeviceSvdMethod
{
    /// <summary>cusolverDnSgesvdjBatched: many small matrices (both dimensions ≤ 32) in one call.</summary>
    BatchedJacobi,

    /// <summary>cusolverDnSgesvd: one call per matrix, for anything larger.</summary>
    Gesvd,
}

/// <summary>
/// Thin SVDs of row-major weights W [rows, cols] ([out, in]) through an <see cref="ICudaRuntime"/>, returned in the
/// CPU path's convention (<see cref="SvdFactors"/>: Uᵀ [r, rows], S [r] descending, Vᵀ [r, cols]). The solvers are
/// column-major, and a row-major W is the column-major Wᵀ, so:
/// <list type="bullet">
/// <item>batched Jacobi (no shape rule but ≤ 32): decompose A = Wᵀ as stored; W = Aᵀ gives U_W = V_A, V_W = U_A
/// (first r columns of the full square factors gesvdj returns).</item>
/// <item>gesvd needs m ≥ n. rows ≤ cols: A = Wᵀ as stored (U_W = V_A = (Vᵀ_A)ᵀ, which is Vᵀ_A's memory read
/// row-major; V_W = U_A). rows &gt; cols: A = W, transposed on the host before the upload (U_W = U_A, V_W = (Vᵀ_A)ᵀ).</item>
/// </list>
/// </summary>
public static class DeviceSvd
{
    public static DeviceSvdMethod Choose(int rows, int cols) =>
        rows <= SvdBatchShape.MaxDim && cols <= SvdBatchShape.MaxDim ? DeviceSvdMethod.BatchedJacobi : DeviceSvdMethod.Gesvd;

    /// <summary>The thin SVD of one row-major matrix.</summary>
    public static SvdFactors Thin(ICudaRuntime runtime, float[] w, int rows, int cols) =>
        Thin(runtime, w, 1, rows, cols)[0];

    /// <summary>The thin SVDs of <paramref name="batch"/> row-major [rows, cols] matrices stored one after another.</summary>
    public static SvdFactors[] Thin(ICudaRuntime runtime, float[] w, int batch, int rows, int cols)
    {
        using var job = new DeviceSvdJob(runtime, w, batch, rows, cols);
        job.Run();
        return job.Download();
    }
}

/// <summary>
/// The device buffers of one batch of SVDs, uploaded once: <see cref="Restore"/> restores the solver's input from a
/// pristine device copy (the solvers destroy A) and <see cref="Solve"/> calls the solver, so a benchmark can time the
/// solver alone, repeatedly.
/// </summary>
public sealed unsafe class DeviceSvdJob : IDisposable
{
    private readonly ICudaRuntime _runtime;
    private readonly DevicePtr _pristine, _a, _s, _u, _v;
    private readonly int _m, _n; // the solver's column-major A is m×n
    private bool _disposed;

    public DeviceSvdJob(ICudaRuntime runtime, float[] w, int batch, int rows, int cols, DeviceSvdMethod? method = null)
    {
        if (batch < 1 || rows < 1 || cols < 1 || w.LongLength != (long)batch * rows * cols)
            throw new QuantNativeException($"device SVD: {w.LongLength} elements; expected {batch} matrices [{rows}, {cols}]");
        _runtime = runtime;
        Batch = batch;
        Rows = rows;
        Cols = cols;
        Rank = Math.Min(rows, cols);
        Method = method ?? DeviceSvd.Choose(rows, cols);
        if (Method == DeviceSvdMethod.BatchedJacobi) SvdBatchShape.Check(cols, rows, batch);
        TransposedUpload = Method == DeviceSvdMethod.Gesvd && rows > cols;
        (_m, _n) = TransposedUpload ? (rows, cols) : (cols, rows);
        float[] a = w;
        if (TransposedUpload)
        {
            a = new float[w.LongLength];
            for (int j = 0; j < batch; j++)
                Svd.Transpose(w.AsSpan(j * rows * cols, rows * cols).ToArray(), rows, cols).CopyTo(a, (long)j * rows * cols);
        }
        long each = (long)rows * cols;
        (long uEach, long vEach) = Method == DeviceSvdMethod.BatchedJacobi
            ? ((long)_m * _m, (long)_n * _n)
            : ((long)_m * _n, (long)_n * _n);
        UEach = uEach;
        VEach = vEach;
        var allocated = new List<DevicePtr>();
        try
        {
            DevicePtr Alloc(long floats)
            {
                var p = runtime.Allocate(floats * sizeof(float));
                allocated.Add(p);
                return p;
            }
            _pristine = Alloc(batch * each);
            _a = Alloc(batch * each);
            _s = Alloc((long)batch * Rank);
            _u = Alloc(batch * uEach);
            _v = Alloc(batch * vEach);
            fixed (float* pa = a) runtime.CopyHostToDevice(_pristine, pa, batch * each * sizeof(float));
        }
        catch
        {
            foreach (var p in allocated) runtime.Free(p);
            throw;
        }
    }

    public int Batch { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Rank { get; }
    public DeviceSvdMethod Method { get; }

    /// <summary>rows &gt; cols under gesvd: W was transposed on the host so that the solver sees m ≥ n.</summary>
    public bool TransposedUpload { get; }

    private long UEach { get; }
    private long VEach { get; }

    /// <summary>Restores A and runs the solver.</summary>
    public void Run()
    {
        Restore();
        Solve();
    }

    /// <summary>Restores the solver's input A from the pristine copy (a device-to-device copy); the solvers destroy it.</summary>
    public void Restore()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _runtime.CopyDeviceToDevice(_a, _pristine, (long)Batch * Rows * Cols * sizeof(float));
    }

    /// <summary>Runs the solver on A as it is (call <see cref="Restore"/> before each repetition).</summary>
    public void Solve()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long each = (long)Rows * Cols;
        if (Method == DeviceSvdMethod.BatchedJacobi)
        {
            _runtime.SgesvdBatched(_m, _n, Batch, _a, _s, _u, _v);
            return;
        }
        for (int j = 0; j < Batch; j++)
            _runtime.Sgesvd(_m, _n, _a.Offset(j * each * sizeof(float)), _s.Offset((long)j * Rank * sizeof(float)),
                _u.Offset(j * UEach * sizeof(float)), _v.Offset(j * VEach * sizeof(float)));
    }

    /// <summary>The results of the last <see cref="Run"/> in the <see cref="SvdFactors"/> convention.</summary>
    public SvdFactors[] Download()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _runtime.Synchronize();
        var s = Fetch(_s, (long)Batch * Rank);
        var u = Fetch(_u, Batch * UEach);
        var v = Fetch(_v, Batch * VEach);
        int r = Rank;
        var results = new SvdFactors[Batch];
        for (int j = 0; j < Batch; j++)
        {
            var uj = u.AsSpan((int)(j * UEach), (int)UEach);
            var vj = v.AsSpan((int)(j * VEach), (int)VEach);
            float[] uw, vw;
            if (Method == DeviceSvdMethod.BatchedJacobi)
            {
                // A = Wᵀ (m = cols, n = rows): U_W = V_A (n×n, ld n), V_W = U_A (m×m, ld m).
                uw = Columns(vj, _n, Rows, r);
                vw = Columns(uj, _m, Cols, r);
            }
            else if (!TransposedUpload)
            {
                // A = Wᵀ: U_W = (Vᵀ_A)ᵀ, whose row-major form is Vᵀ_A's column-major memory; V_W = U_A.
                uw = vj.ToArray();
                vw = Columns(uj, _m, Cols, r);
            }
            else
            {
                // A = W: U_W = U_A, V_W = (Vᵀ_A)ᵀ (Vᵀ_A's memory as it is).
                uw = Columns(uj, _m, Rows, r);
                vw = vj.ToArray();
            }
            results[j] = new SvdFactors(Rows, Cols, r, Svd.Transpose(uw, Rows, r), s.AsSpan(j * r, r).ToArray(),
                Svd.Transpose(vw, Cols, r));
        }
        return results;
    }

    /// <summary>The first <paramref name="r"/> columns of a column-major matrix (leading dimension
    /// <paramref name="ld"/>, <paramref name="rows"/> rows used) as row-major [rows, r].</summary>
    private static float[] Columns(ReadOnlySpan<float> colMajor, int ld, int rows, int r)
    {
        var o = new float[(long)rows * r];
        for (int i = 0; i < rows; i++)
        for (int t = 0; t < r; t++)
            o[(long)i * r + t] = colMajor[t * ld + i];
        return o;
    }

    private float[] Fetch(DevicePtr p, long count)
    {
        var a = new float[count];
        fixed (float* pa = a) _runtime.CopyDeviceToHost(pa, p, count * sizeof(float));
        return a;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in new[] { _pristine, _a, _s, _u, _v }) _runtime.Free(p);
    }
}
