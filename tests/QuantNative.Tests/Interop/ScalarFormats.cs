using System.Numerics;

namespace QuantNative.Tests.Interop;

/// <summary>
/// Scalar definitions of binary16 and bfloat16 rounding for the emulator's tests, written independently of the
/// emulator: a value is an exact integer times a power of two (BigInteger), rounded once to nearest-even (or toward
/// zero) with the format's precision, subnormals and overflow. CUDA's NaN results are the canonical 0x7fff.
/// </summary>
internal static class ScalarFormats
{
    internal sealed record Format(int Precision, int Emin, int Emax, ushort MaxFinite, ushort Infinity);

    internal static readonly Format Binary16 = new(11, -14, 15, 0x7bff, 0x7c00);
    internal static readonly Format BFloat16 = new(8, -126, 127, 0x7f7f, 0x7f80);
    internal const ushort CanonicalNaN = 0x7fff;

    /// <summary>Rounds value * 2^exp (value != 0) to the format's bits.</summary>
    internal static ushort Round(BigInteger value, int exp, Format f, bool towardZero = false)
    {
        ushort sign = value.Sign < 0 ? (ushort)0x8000 : (ushort)0;
        var mag = BigInteger.Abs(value);
        int top = exp + (int)mag.GetBitLength() - 1;
        int quantum = Math.Max(top, f.Emin) - (f.Precision - 1);
        int shift = quantum - exp;
        BigInteger r;
        if (shift <= 0) r = mag << -shift;
        else
        {
            r = mag >> shift;
            var rest = mag - (r << shift);
            var half = BigInteger.One << (shift - 1);
            if (!towardZero && (rest > half || (rest == half && !r.IsEven))) r += 1;
        }
        if (r == BigInteger.One << f.Precision)
        {
            r >>= 1;
            quantum++;
        }
        if (r.IsZero) return sign;
        int resultTop = quantum + (int)r.GetBitLength() - 1;
        if (resultTop > f.Emax) return (ushort)(sign | (towardZero ? f.MaxFinite : f.Infinity));
        if (r < BigInteger.One << (f.Precision - 1)) return (ushort)(sign | (ushort)r); // subnormal
        int exponentField = resultTop + f.Emax;
        var mantissa = r - (BigInteger.One << (f.Precision - 1));
        return (ushort)(sign | (exponentField << (f.Precision - 1)) | (ushort)mantissa);
    }

    internal static (BigInteger Value, int Exp) Exact(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        int e = (int)((bits >> 23) & 0xff);
        BigInteger m = bits & 0x7fffff;
        if (e != 0) m += 1 << 23;
        int exp = e == 0 ? -149 : e - 150;
        return ((bits >> 31) != 0 ? -m : m, exp);
    }

    internal static (BigInteger Value, int Exp) Exact(double x)
    {
        ulong bits = BitConverter.DoubleToUInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7ff);
        BigInteger m = bits & ((1UL << 52) - 1);
        if (e != 0) m += BigInteger.One << 52;
        int exp = e == 0 ? -1074 : e - 1075;
        return ((bits >> 63) != 0 ? -m : m, exp);
    }

    /// <summary>A finite binary16 (exp -24) or bfloat16 (exp -133) value as an integer times 2^exp.</summary>
    internal static BigInteger ExactHalf(ushort h) => ExactNarrow(h, 10);
    internal static BigInteger ExactBFloat16(ushort b) => ExactNarrow(b, 7);

    private static BigInteger ExactNarrow(ushort bits, int mantissaBits)
    {
        int e = (bits & 0x7fff) >> mantissaBits;
        BigInteger m = bits & ((1 << mantissaBits) - 1);
        if (e != 0) m = (m + (1 << mantissaBits)) << (e - 1);
        return (bits & 0x8000) != 0 ? -m : m;
    }

    internal static bool IsFiniteHalf(ushort h) => (h & 0x7c00) != 0x7c00;
    internal static bool IsFiniteBFloat16(ushort b) => (b & 0x7f80) != 0x7f80;
    internal static double HalfToDouble(ushort h) => (double)BitConverter.UInt16BitsToHalf(h);
    internal static double BFloat16ToDouble(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>float -> format as CUDA's __float2half_rn / _rz and __float2bfloat16_rn / _rz define it.</summary>
    internal static ushort FromFloat(float x, Format f, bool towardZero = false)
    {
        if (float.IsNaN(x)) return CanonicalNaN;
        ushort sign = float.IsNegative(x) ? (ushort)0x8000 : (ushort)0;
        if (float.IsInfinity(x)) return (ushort)(sign | f.Infinity);
        if (x == 0) return sign;
        var (v, e) = Exact(x);
        return Round(v, e, f, towardZero);
    }

    /// <summary>A double result of IEEE arithmetic on exact inputs, for the cases the exact path does not cover:
    /// NaN (canonical), infinities and signed zeros; finite nonzero values are rounded exactly.</summary>
    internal static ushort FromDouble(double d, Format f)
    {
        if (double.IsNaN(d)) return CanonicalNaN;
        ushort sign = double.IsNegative(d) ? (ushort)0x8000 : (ushort)0;
        if (double.IsInfinity(d)) return (ushort)(sign | f.Infinity);
        if (d == 0) return sign;
        var (v, e) = Exact(d);
        return Round(v, e, f);
    }
}
