using QuantNative.Formats;

namespace QuantNative.Tests.Formats;

/// <summary>
/// Round-to-nearest-even into a 16-bit float format, written independently of the library: the format's finite
/// non-negative values are its bit patterns 0 .. inf-1 in ascending order (widening is exact), so rounding is a
/// binary search and a comparison with the exact midpoint (a double), ties to the even bit pattern.
/// </summary>
internal sealed class ReferenceRounding
{
    public static readonly ReferenceRounding F16 = new(b => (double)BitConverter.UInt16BitsToHalf(b), infinity: 0x7C00);
    public static readonly ReferenceRounding BF16 = new(b => BitConverter.UInt32BitsToSingle((uint)b << 16), infinity: 0x7F80);

    private readonly double[] _values;   // _values[bits] for bits in [0, infinity)
    private readonly ushort _infinity;
    private readonly Func<ushort, double> _decode;

    private ReferenceRounding(Func<ushort, double> decode, ushort infinity)
    {
        _decode = decode;
        _infinity = infinity;
        _values = Enumerable.Range(0, infinity).Select(b => decode((ushort)b)).ToArray();
    }

    public static ReferenceRounding For(FloatDType dtype) => dtype == FloatDType.F16 ? F16 : BF16;

    /// <summary>The bit pattern nearest to <paramref name="x"/> (not NaN).</summary>
    public ushort Bits(float x)
    {
        if (float.IsNaN(x)) throw new ArgumentException("NaN has no nearest value");
        ushort sign = (ushort)(float.IsNegative(x) ? 0x8000 : 0);
        double a = Math.Abs((double)x);
        if (double.IsInfinity(a)) return (ushort)(sign | _infinity);
        int lo = Array.BinarySearch(_values, a);
        if (lo >= 0) return (ushort)(sign | lo);
        lo = ~lo - 1; // largest value below a
        int hi = lo + 1;
        // One step beyond the largest finite value is where infinity would sit with an unbounded exponent.
        double upper = hi < _values.Length ? _values[hi] : _values[^1] + (_values[^1] - _values[^2]);
        double mid = (_values[lo] + upper) / 2; // exact: both have at most 11 significant bits
        int chosen = a < mid ? lo : a > mid ? hi : (lo % 2 == 0 ? lo : hi);
        return (ushort)(sign | Math.Min(chosen, _infinity));
    }

    public float Round(float x) => float.IsNaN(x) ? x : (float)_decode(Bits(x));

    /// <summary>Floats that exercise rounding: random bit patterns over every exponent, exact ties of both parities
    /// for BF16 and F16, values near the largest finite value and in the subnormal range, zeros and infinities.</summary>
    public static float[] HardCases(int seed, int randomCount)
    {
        var random = new Random(seed);
        var list = new List<float> { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, float.Epsilon,
            65504f, 65519.99f, 65520f, -65520f, 65536f, 6e-8f, 3e-8f, 2.98023224e-8f, 1e-40f };
        for (int i = 0; i < randomCount; i++)
        {
            uint bits = (uint)random.NextInt64(0, 1L << 32);
            float f = BitConverter.UInt32BitsToSingle(bits);
            if (!float.IsNaN(f)) list.Add(f);
            // A BF16 tie: the dropped 16 bits are exactly 0x8000 (kept LSB random, so both parities occur).
            float tie = BitConverter.UInt32BitsToSingle((bits & 0xFFFF_0000) | 0x8000);
            if (!float.IsNaN(tie)) list.Add(tie);
            // An F16 tie: a half-way point between two neighbouring halves, computed exactly in double.
            ushort h = (ushort)random.Next(0, 0x7BFF);
            double midway = ((double)BitConverter.UInt16BitsToHalf(h) + (double)BitConverter.UInt16BitsToHalf((ushort)(h + 1))) / 2;
            list.Add((float)(random.Next(2) == 0 ? midway : -midway));
            // Ordinary weights.
            list.Add((random.NextSingle() * 2 - 1) * MathF.Pow(2, random.Next(-30, 17)));
        }
        return list.ToArray();
    }
}
