using System.Globalization;

namespace QuantNative.Cli;

/// <summary>A size option's value: bytes, or a number with K, M, G or T (powers of 1024; a trailing B or iB is allowed).</summary>
public static class ByteSize
{
    public static long Parse(string text, string option)
    {
        string t = text.Trim().ToUpperInvariant();
        if (t.EndsWith("IB", StringComparison.Ordinal)) t = t[..^2];
        else if (t.EndsWith('B')) t = t[..^1];
        int shift = t.Length > 0 ? t[^1] switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 } : 0;
        if (shift > 0) t = t[..^1];
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v > 0) || v * (1L << shift) > long.MaxValue)
            throw new QuantNativeException($"{option} {text}: expected a positive size such as 20G, 512M or 1073741824");
        return (long)(v * (1L << shift));
    }
}
