using System.Text;

namespace QuantNative.Tests.Tokenization;

/// <summary>Random test strings: well-formed Unicode (a C# string with a lone surrogate has no UTF-8 form).</summary>
internal static class RandomText
{
    private static readonly (int From, int To)[] Ranges =
    [
        (0x20, 0x7E), (0x20, 0x7E), (0x20, 0x7E), (0x20, 0x7E), // mostly ASCII, so merges happen
        (0x00, 0x1F), (0x7F, 0x9F),                            // control characters, newlines, tabs
        (0xA0, 0x24F),                                         // Latin-1 and Latin Extended
        (0x370, 0x3FF), (0x400, 0x4FF),                        // Greek, Cyrillic
        (0x2000, 0x2BFF),                                      // punctuation, symbols, U+2581 among them
        (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),  // kana, CJK, Hangul
        (0xE000, 0xF8FF), (0xFFF0, 0xFFFD),                    // private use, specials
        (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF),               // emoji, all supplementary planes
    ];

    public static string Unicode(Random rng, int length)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++)
        {
            int roll = rng.Next(10);
            if (roll < 2) { sb.Append(' ', 1 + rng.Next(3)); continue; }
            var (from, to) = Ranges[rng.Next(Ranges.Length)];
            int cp = rng.Next(from, to + 1);
            if (cp is >= 0xD800 and <= 0xDFFF) cp = 'x';
            sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    /// <summary>A string drawn from <paramref name="alphabet"/> (whole strings, e.g. characters or pieces).</summary>
    public static string From(Random rng, IReadOnlyList<string> alphabet, int length)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.Append(alphabet[rng.Next(alphabet.Count)]);
        return sb.ToString();
    }
}
