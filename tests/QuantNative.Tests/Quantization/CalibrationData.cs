using QuantNative.Quantization.Gptq;

namespace QuantNative.Tests.Quantization;

/// <summary>Calibration inputs for GPTQ tests and the output error they are judged by.</summary>
public static class CalibrationData
{
    /// <summary>
    /// A distribution of correlated inputs x = z·A·D: Gaussian z, a random mixing A = I + G/√columns (so inputs are
    /// correlated and H is far from diagonal) and per-column scales D over about an order of magnitude (so act-order
    /// has something to sort). Calibration and held-out samples come from the same A and D.
    /// </summary>
    public sealed class Correlated
    {
        private readonly int _columns;
        private readonly double[] _mix;

        public Correlated(Random random, int columns, double scaleSpread = 0.6)
        {
            _columns = columns;
            _mix = new double[columns * columns];
            for (int i = 0; i < _mix.Length; i++) _mix[i] = QuantTestData.Gaussian(random) / Math.Sqrt(columns);
            for (int i = 0; i < columns; i++) _mix[i * columns + i] += 1.0;
            for (int c = 0; c < columns; c++)
            {
                double d = Math.Exp(scaleSpread * QuantTestData.Gaussian(random));
                for (int k = 0; k < columns; k++) _mix[k * columns + c] *= d;
            }
        }

        /// <summary>n rows [n, columns].</summary>
        public float[] Sample(Random random, int n)
        {
            var x = new float[n * _columns];
            var z = new double[_columns];
            for (int r = 0; r < n; r++)
            {
                for (int k = 0; k < _columns; k++) z[k] = QuantTestData.Gaussian(random);
                for (int c = 0; c < _columns; c++)
                {
                    double sum = 0;
                    for (int k = 0; k < _columns; k++) sum += z[k] * _mix[k * _columns + c];
                    x[r * _columns + c] = (float)sum;
                }
            }
            return x;
        }
    }

    /// <summary>Sylvester's Hadamard matrix of order n (a power of two): entries ±1, HᵀH = n·I exactly.</summary>
    public static float[] Hadamard(int n)
    {
        var h = new float[n * n];
        h[0] = 1;
        for (int size = 1; size < n; size *= 2)
        for (int i = 0; i < size; i++)
        for (int j = 0; j < size; j++)
        {
            float v = h[i * n + j];
            h[i * n + j + size] = v;
            h[(i + size) * n + j] = v;
            h[(i + size) * n + j + size] = -v;
        }
        return h;
    }

    /// <summary>
    /// X [n, columns] = the first <paramref name="columns"/> columns of a Hadamard matrix of order n, column c scaled by
    /// scales[c]. Every product and partial sum of XᵀX is exact in float64 when the scales have few mantissa bits, so
    /// XᵀX = n·diag(scales²) with off-diagonal entries exactly 0.
    /// </summary>
    public static float[] OrthogonalColumns(int n, int columns, float[] scales)
    {
        var h = Hadamard(n);
        var x = new float[n * columns];
        for (int r = 0; r < n; r++)
        for (int c = 0; c < columns; c++)
            x[r * columns + c] = h[r * n + c] * scales[c];
        return x;
    }

    /// <summary>‖X·Wᵀ − X·Ŵᵀ‖_F = ‖X·(W − Ŵ)ᵀ‖_F in float64.</summary>
    public static double OutputError(float[] x, int n, float[] w, float[] wq, int rows, int columns)
    {
        double total = 0;
        var delta = new double[columns];
        for (int o = 0; o < rows; o++)
        {
            for (int c = 0; c < columns; c++) delta[c] = (double)w[o * columns + c] - wq[o * columns + c];
            for (int r = 0; r < n; r++)
            {
                double y = 0;
                for (int c = 0; c < columns; c++) y += x[r * columns + c] * delta[c];
                total += y * y;
            }
        }
        return Math.Sqrt(total);
    }

    /// <summary>½·Σ_rows δ·H·δᵀ for δ = W − Ŵ, in float64.</summary>
    public static double HalfQuadraticForm(double[] h, float[] w, float[] wq, int rows, int columns)
    {
        double total = 0;
        var delta = new double[columns];
        for (int o = 0; o < rows; o++)
        {
            for (int c = 0; c < columns; c++) delta[c] = (double)w[o * columns + c] - wq[o * columns + c];
            for (int i = 0; i < columns; i++)
            {
                double hi = 0;
                for (int j = 0; j < columns; j++) hi += h[i * columns + j] * delta[j];
                total += delta[i] * hi;
            }
        }
        return total / 2;
    }

    public static HessianAccumulator Accumulate(float[] x, int n, int columns, int batch = 64)
    {
        var acc = new HessianAccumulator(columns, "test layer");
        for (int r = 0; r < n; r += batch)
        {
            int rows = Math.Min(batch, n - r);
            acc.AddBatch(x.AsSpan(r * columns, rows * columns), rows);
        }
        return acc;
    }
}
