using System.Globalization;

namespace QuantNative.Evaluation;

/// <summary>
/// A part of a text given as fractions of its length, "start:end" (e.g. "0:0.5" and "0.5:1"), so one file can be split
/// into a calibration part and an evaluation part that never overlap. Each cut moves forward to the next line start, the
/// same way for every range, so "0:0.5" and "0.5:1" tile the text exactly and no line is split.
/// </summary>
public static class TextRange
{
    public static string Slice(string text, string range, string option)
    {
        var parts = range.Split(':');
        if (parts.Length != 2 || !TryFraction(parts[0], out double start) || !TryFraction(parts[1], out double end) || start >= end)
            throw new QuantNativeException(
                $"{option} {range}: expected start:end as fractions of the text with 0 ≤ start < end ≤ 1 (e.g. 0:0.5)");
        int from = Cut(text, start), to = Cut(text, end);
        if (from >= to)
            throw new QuantNativeException($"{option} {range}: the range holds no text (it lies within one line)");
        return text[from..to];
    }

    private static int Cut(string text, double fraction)
    {
        if (fraction >= 1) return text.Length;
        int at = (int)(text.Length * fraction);
        if (at == 0) return 0;
        int newline = text.IndexOf('\n', at - 1);
        return newline < 0 ? text.Length : newline + 1;
    }

    private static bool TryFraction(string s, out double value) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value is >= 0 and <= 1;
}
