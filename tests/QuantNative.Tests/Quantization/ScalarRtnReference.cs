namespace QuantNative.Tests.Quantization;

/// <summary>
/// DESIGN.md §7.1 written out once more, as plainly as possible and without the library's helpers, so RTN can be
/// compared with it bit for bit: float32 arithmetic, Math.Round's default (half-to-even) on the widened value, the
/// s clamp [1e-5, 1e4], fp16 scales (what the checkpoint stores), zero clamped to the storable range.
/// </summary>
public static class ScalarRtnReference
{
    public sealed record Result(byte[] Codes, float[] Scales, int[] Zeros, float[] Dequantized);

    public static Result Quantize(float[] w, int rows, int columns, int bits, int groupSize, bool symmetric)
    {
        int qmax = (1 << bits) - 1;
        int length = groupSize <= 0 ? columns : Math.Min(groupSize, columns);
        int groups = (columns + length - 1) / length;
        var codes = new byte[rows * columns];
        var scales = new float[rows * groups];
        var zeros = new int[rows * groups];
        var deq = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++)
        {
            int first = g * length, end = Math.Min(first + length, columns);
            float lo = 0, hi = 0;
            for (int c = first; c < end; c++)
            {
                if (w[r * columns + c] < lo) lo = w[r * columns + c];
                if (w[r * columns + c] > hi) hi = w[r * columns + c];
            }
            float s;
            int z = 0;
            if (symmetric)
            {
                float amax = Math.Max(-lo, hi);
                s = 2 * amax / qmax;
                z = (qmax + 1) / 2;
            }
            else
            {
                s = (hi - lo) / qmax;
            }
            if (s < 1e-5f) s = 1e-5f;
            if (s > 1e4f) s = 1e4f;
            s = (float)(Half)s;
            if (!symmetric)
            {
                float ratio = -lo / s;
                z = (int)Math.Round((double)ratio);
                if (z < 0) z = 0;
                if (z > qmax) z = qmax;
            }
            scales[r * groups + g] = s;
            zeros[r * groups + g] = z;
            for (int c = first; c < end; c++)
            {
                float ratio = w[r * columns + c] / s;
                long q = (long)Math.Round((double)ratio) + z;
                if (q < 0) q = 0;
                if (q > qmax) q = qmax;
                codes[r * columns + c] = (byte)q;
                deq[r * columns + c] = (float)(q - z) * s;
            }
        }
        return new Result(codes, scales, zeros, deq);
    }
}
