namespace QuantNative.Tests.Quantization;

/// <summary>Seeded random weights and activations for the quantization tests, with the awkward cases mixed in.</summary>
public static class QuantTestData
{
    public static readonly int[] Bits = [2, 3, 4, 8];
    public static readonly int[] RowCounts = [1, 3, 17, 172];
    public static readonly int[] ColumnCounts = [64, 100, 172];

    /// <summary>32 and 64 do not divide 100 or 172, 128 exceeds 100, 100 leaves 72 of 172; −1 is per-channel.</summary>
    public static readonly int[] GroupSizes = [32, 64, 128, 100, -1];

    public static float Gaussian(Random random) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));

    /// <summary>
    /// Gaussian weights with a random scale per row, plus the rows that reach the quantizer's edges: a row of zeros
    /// (scale clamp), a row of non-negative weights (zero point 0), a row of tiny weights (subnormal fp16 scales) and
    /// a row with one outlier.
    /// </summary>
    public static float[] Weights(Random random, int rows, int columns)
    {
        var w = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            float rowScale = MathF.Exp(2f * Gaussian(random)) * 0.05f;
            int kind = rows < 4 ? 0 : r % 9;
            for (int c = 0; c < columns; c++)
            {
                float x = rowScale * Gaussian(random);
                w[r * columns + c] = kind switch
                {
                    1 => 0f,
                    2 => MathF.Abs(x),
                    3 => x * 1e-4f,
                    4 => c == columns / 2 ? 40f * rowScale : x,
                    _ => x,
                };
            }
        }
        return w;
    }
}
