using System.Numerics;
using QuantNative.Model;

namespace QuantNative.Cpu;

/// <summary>
/// Rotary position embedding in the rotate-half layout (Hugging Face's): within each head, element i pairs with
/// element i + headDim/2 and both rotate by pos·inv_freq_i, with inv_freq from the model's <see cref="RopeParameters"/>
/// (θ^(−2i/headDim), scaled as linear or llama3 say). Angles are computed in double once; the float
/// path reads float tables (rounded from them), the double path the double tables. The backward pass is the
/// rotation by −θ (the rotation matrix is orthogonal, so its transpose is its inverse).
/// </summary>
public sealed class Rope
{
    private readonly float[] _cos, _sin;       // [maxPositions, headDim/2]
    private readonly double[] _cos64, _sin64;  // the same angles for the double-precision path
    public int HeadDim { get; }
    public int MaxPositions { get; }
    public RopeParameters Parameters { get; }
    public double Theta => Parameters.Theta;

    /// <summary>The float tables [maxPositions, headDim/2] (what the CUDA backend uploads, so both rotate alike).</summary>
    internal ReadOnlySpan<float> CosTable => _cos;
    internal ReadOnlySpan<float> SinTable => _sin;

    /// <summary>Plain RoPE with base <paramref name="theta"/>.</summary>
    public Rope(int headDim, int maxPositions, double theta) : this(headDim, maxPositions, new RopeParameters(theta, RopeScaling.None)) { }

    public Rope(int headDim, int maxPositions, RopeParameters parameters)
    {
        HeadDim = headDim;
        MaxPositions = maxPositions;
        Parameters = parameters;
        int half = headDim / 2;
        var inverseFrequencies = parameters.InverseFrequencies(headDim);
        _cos64 = new double[maxPositions * half];
        _sin64 = new double[maxPositions * half];
        for (int p = 0; p < maxPositions; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * inverseFrequencies[i];
                _cos64[p * half + i] = Math.Cos(angle);
                _sin64[p * half + i] = Math.Sin(angle);
            }
        _cos = Array.ConvertAll(_cos64, v => (float)v);
        _sin = Array.ConvertAll(_sin64, v => (float)v);
    }

    /// <summary>
    /// Rotates, in place, x [rows, heads·headDim] where row r holds position <paramref name="firstPosition"/> + r.
    /// </summary>
    public void Forward<T>(T[] x, int rows, int heads, int firstPosition) where T : unmanaged, IFloatingPointIeee754<T>
        => Rotate(x, rows, heads, firstPosition, inverse: false);

    /// <summary>
    /// The gradient through <see cref="Forward"/>, in place: dx [rows, heads·headDim] (the gradient with respect to
    /// the rotated tensor on entry, to the unrotated one on return) rotated by −θ.
    /// </summary>
    public void Backward<T>(T[] dx, int rows, int heads, int firstPosition) where T : unmanaged, IFloatingPointIeee754<T>
        => Rotate(dx, rows, heads, firstPosition, inverse: true);

    private void Rotate<T>(T[] x, int rows, int heads, int firstPosition, bool inverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int half = HeadDim / 2, width = heads * HeadDim;
        if (firstPosition + rows > MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(rows), $"position {firstPosition + rows - 1} beyond RoPE table of {MaxPositions}");
        T[] cosTable = Table<T>(_cos, _cos64), sinTable = Table<T>(_sin, _sin64);
        ParallelRows.For(rows, width, r =>
        {
            var cos = cosTable.AsSpan((firstPosition + r) * half, half);
            var sin = sinTable.AsSpan((firstPosition + r) * half, half);
            var row = x.AsSpan(r * width, width);
            for (int h = 0; h < heads; h++)
            {
                var head = row.Slice(h * HeadDim, HeadDim);
                for (int i = 0; i < half; i++)
                {
                    T a = head[i], b = head[i + half], s = inverse ? -sin[i] : sin[i];
                    head[i] = a * cos[i] - b * s;
                    head[i + half] = b * cos[i] + a * s;
                }
            }
        });
    }

    private static T[] Table<T>(float[] single, double[] dbl)
    {
        if (typeof(T) == typeof(float)) return (T[])(object)single;
        if (typeof(T) == typeof(double)) return (T[])(object)dbl;
        throw new NotSupportedException($"RoPE tables exist for float and double, not {typeof(T).Name}");
    }
}
