using QuantNative.Cuda;
using QuantNative.Inference.LowBit;

namespace QuantNative.Verification;

/// <summary>One low-bit linear forward on a CUDA runtime with a poisoned output, and the error scale its comparison
/// with the CPU reference is measured against (Σ|x·ŵ| per output: a reordered float32 sum is accurate relative to the
/// sum of its terms' magnitudes).</summary>
public static unsafe class LowBitRun
{
    /// <summary>Uploads <paramref name="linear"/>, runs Forward <paramref name="repeats"/> times into an output
    /// poisoned with NaN (0xff bytes, NaN in both dtypes) and returns it as float.</summary>
    public static float[] OnDevice(ICudaRuntime runtime, LowBitLinear linear, Half[] x, int m, LowBitOutput output,
        int? splits = null, int repeats = 1)
    {
        int n = linear.Weights.N, k = linear.Weights.K;
        int elementBytes = output == LowBitOutput.Float16 ? 2 : 4;
        using var device = linear.Upload(runtime);
        device.MmaSplitsOverride = splits;
        var dx = runtime.Allocate(m * k * 2L);
        var dy = runtime.Allocate((long)m * n * elementBytes);
        try
        {
            runtime.Memset(dy, 0xff, (long)m * n * elementBytes);
            fixed (Half* px = x) runtime.CopyHostToDevice(dx, px, m * k * 2L);
            for (int i = 0; i < repeats; i++) device.Forward(dy, dx, m, output);
            runtime.Synchronize();
            var y = new float[m * n];
            if (output == LowBitOutput.Float32)
                fixed (float* py = y) runtime.CopyDeviceToHost(py, dy, (long)m * n * 4);
            else
            {
                var h = new Half[m * n];
                fixed (Half* ph = h) runtime.CopyDeviceToHost(ph, dy, (long)m * n * 2);
                for (int i = 0; i < y.Length; i++) y[i] = (float)h[i];
            }
            return y;
        }
        finally
        {
            runtime.Free(dx);
            runtime.Free(dy);
        }
    }

    /// <summary>Σ_k |x[i, k]·ŵ[o, k]| for every output [i, o] (row-major [m, n]), in double.</summary>
    public static double[] Magnitudes(float[] dequantized, Half[] x, int m, int n, int k)
    {
        var abs = new double[(long)m * n];
        var xf = new float[x.Length];
        for (int i = 0; i < x.Length; i++) xf[i] = Math.Abs((float)x[i]);
        Parallel.For(0, n, o =>
        {
            for (int i = 0; i < m; i++)
            {
                double s = 0;
                for (int c = 0; c < k; c++) s += (double)xf[i * k + c] * Math.Abs(dequantized[(long)o * k + c]);
                abs[(long)i * n + o] = s;
            }
        });
        return abs;
    }
}
