using QuantNative.Interop;

namespace QuantNative.Quantization.Gptq;

/// <summary>
/// GPTQ's H = 2·XᵀX/n for one linear layer, from its calibration inputs fed in batches of rows (x [rows, in]). The sum
/// XᵀX is kept in float64: with thousands of calibration rows of activations that span orders of magnitude, a float32
/// running sum loses the small eigenvalues the Cholesky factor depends on.
/// </summary>
public sealed unsafe class HessianAccumulator
{
    private readonly double[] _sum;
    private double[] _batch = [];

    /// <summary>The layer's name, used in error messages.</summary>
    public string Layer { get; }

    public int Columns { get; }

    /// <summary>Calibration rows fed so far (n).</summary>
    public long Samples { get; private set; }

    public HessianAccumulator(int columns, string layer = "layer")
    {
        if (columns <= 0)
            throw new QuantNativeException($"{layer}: Hessian of {columns} input columns: expected at least one");
        Columns = columns;
        Layer = layer;
        _sum = new double[(long)columns * columns];
    }

    /// <summary>Adds the rows of x [rows, Columns] (row-major) to XᵀX.</summary>
    public void AddBatch(ReadOnlySpan<float> x, int rows)
    {
        if (rows < 0 || x.Length != (long)rows * Columns)
            throw new QuantNativeException(
                $"{Layer}: calibration batch of {x.Length} values for {rows} rows: expected rows × {Columns} input columns");
        if (rows == 0) return;
        if (_batch.Length < x.Length) _batch = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            if (!float.IsFinite(x[i]))
                throw new QuantNativeException(
                    $"{Layer}: calibration input {x[i]} at row {i / Columns}, column {i % Columns}: expected finite activations");
            _batch[i] = x[i];
        }
        OpenBlas.EnsureLoaded();
        fixed (double* b = _batch) fixed (double* s = _sum)
            OpenBlas.cblas_dgemm(OpenBlas.CblasRowMajor, OpenBlas.CblasTrans, OpenBlas.CblasNoTrans, Columns, Columns, rows,
                1.0, b, Columns, b, Columns, 1.0, s, Columns);
        Samples += rows;
    }

    /// <summary>Σx² of each input column so far (the diagonal of XᵀX): the importance a GGUF K-quant fit weights each
    /// column's error by, as llama.cpp's importance matrix does.</summary>
    public float[] ColumnEnergy()
    {
        var energy = new float[Columns];
        for (int j = 0; j < Columns; j++) energy[j] = (float)_sum[(long)j * Columns + j];
        return energy;
    }

    /// <summary>A fresh copy of H = 2·XᵀX/n, row-major [Columns, Columns].</summary>
    public double[] Hessian()
    {
        if (Samples == 0)
            throw new QuantNativeException($"{Layer}: no calibration rows were fed, so there is no Hessian for GPTQ");
        var h = new double[_sum.Length];
        double factor = 2.0 / Samples;
        for (int i = 0; i < h.Length; i++) h[i] = _sum[i] * factor;
        return h;
    }
}
