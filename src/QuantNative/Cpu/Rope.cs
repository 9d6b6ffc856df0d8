namespace QuantNative.Cpu;

/// <summary>
/// Rotary position embedding in the rotate-half layout (Hugging Face's): within each head, element i pairs with
/// element i + headDim/2 and both rotate by pos·theta^(−2i/headDim). Angles are computed in double once.
/// </summary>
public sealed class Rope
{
    private readonly float[] _cos, _sin; // [maxPositions, headDim/2]
    public int HeadDim { get; }
    public int MaxPositions { get; }

    public Rope(int headDim, int maxPositions, double theta)
    {
        HeadDim = headDim;
        MaxPositions = maxPositions;
        int half = headDim / 2;
        _cos = new float[maxPositions * half];
        _sin = new float[maxPositions * half];
        for (int p = 0; p < maxPositions; p++)
            for (int i = 0; i < half; i++)
            {
                double freq = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
                double angle = p * freq;
                _cos[p * half + i] = (float)Math.Cos(angle);
                _sin[p * half + i] = (float)Math.Sin(angle);
            }
    }

    /// <summary>
    /// Rotates, in place, x [rows, heads·headDim] where row r holds position <paramref name="firstPosition"/> + r.
    /// </summary>
    public void Forward(float[] x, int rows, int heads, int firstPosition)
    {
        int half = HeadDim / 2, width = heads * HeadDim;
        if (firstPosition + rows > MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(rows), $"position {firstPosition + rows - 1} beyond RoPE table of {MaxPositions}");
        ParallelRows.For(rows, width, r =>
        {
            var cos = _cos.AsSpan((firstPosition + r) * half, half);
            var sin = _sin.AsSpan((firstPosition + r) * half, half);
            var row = x.AsSpan(r * width, width);
            for (int h = 0; h < heads; h++)
            {
                var head = row.Slice(h * HeadDim, HeadDim);
                for (int i = 0; i < half; i++)
                {
                    float a = head[i], b = head[i + half];
                    head[i] = a * cos[i] - b * sin[i];
                    head[i + half] = b * cos[i] + a * sin[i];
                }
            }
        });
    }
}
