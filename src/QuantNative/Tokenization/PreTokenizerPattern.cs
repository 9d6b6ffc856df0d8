using System.Globalization;
using System.Text.RegularExpressions;

namespace QuantNative.Tokenization;

/// <summary>
/// A Split pre-tokenizer's regex, as Hugging Face runs it (Oniguruma, over code points): each call finds the next
/// match. The three patterns byte-level LLaMA-family tokenizers use — GPT-2's, Llama 3's (<c>\p{N}{1,3}</c>) and
/// Qwen's (<c>\p{N}</c>) — are matched by a hand-written scanner over code points; any other pattern falls back to
/// .NET's Regex. The scanner exists because .NET's Regex works on UTF-16 units: a letter outside the BMP (𝐀, 𠀀) is
/// two surrogates to it, neither in \p{L}, and a one-character class such as <c>[^\r\n\p{L}\p{N}]?</c> can take half
/// of an emoji; Oniguruma sees one code point in both cases. It is also several times faster.
/// </summary>
internal abstract class PreTokenizerPattern
{
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    public const string Llama3 =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The regex source, as the file gives it.</summary>
    public abstract string Source { get; }

    /// <summary>Finds the first match at or after <paramref name="from"/> within [.., end): false when none.</summary>
    public abstract bool NextMatch(string text, int from, int end, out int matchStart, out int matchEnd);

    /// <summary>The scanner for a known pattern, else .NET's Regex (which may differ from Hugging Face on characters
    /// outside the Basic Multilingual Plane).</summary>
    public static PreTokenizerPattern Create(string regex, string bad)
    {
        switch (regex)
        {
            case Gpt2: return new LlamaFamilyScanner(regex, gpt2: true, maxDigits: int.MaxValue);
            case Llama3: return new LlamaFamilyScanner(regex, gpt2: false, maxDigits: 3);
            case Qwen: return new LlamaFamilyScanner(regex, gpt2: false, maxDigits: 1);
        }
        try
        {
            return new RegexPattern(new Regex(regex, RegexOptions.CultureInvariant), regex);
        }
        catch (ArgumentException e)
        {
            throw new QuantNativeException($"{bad}: the Split pre-tokenizer's regex is not valid for .NET: {e.Message}", e);
        }
    }

    /// <summary>Escapes a literal Split pattern ({"String": ...}).</summary>
    public static PreTokenizerPattern Literal(string text) =>
        new RegexPattern(new Regex(Regex.Escape(text), RegexOptions.CultureInvariant), text);

    private sealed class RegexPattern(Regex regex, string source) : PreTokenizerPattern
    {
        public override string Source => source;

        public override bool NextMatch(string text, int from, int end, out int matchStart, out int matchEnd)
        {
            // Empty matches split nothing; look for the next non-empty one (Hugging Face skips them too).
            for (var m = regex.Match(text, from, end - from); m.Success; m = m.NextMatch())
            {
                if (m.Length == 0) continue;
                (matchStart, matchEnd) = (m.Index, m.Index + m.Length);
                return true;
            }
            (matchStart, matchEnd) = (end, end);
            return false;
        }
    }

    /// <summary>
    /// GPT-2's pattern and the Llama 3 / Qwen one, alternative by alternative; every code point is in exactly one
    /// of letter (\p{L}), number (\p{N}), whitespace (\s) or other, and every position matches one of the
    /// alternatives, so the matches tile the text.
    /// </summary>
    private sealed class LlamaFamilyScanner(string source, bool gpt2, int maxDigits) : PreTokenizerPattern
    {
        public override string Source => source;

        private enum Class : byte { Letter, Number, Space, Other, None }

        private static Class ClassAt(string s, int i, int end, out int length)
        {
            char c = s[i];
            length = 1;
            if (c < 0x80)
            {
                if ((uint)((c | 0x20) - 'a') <= 'z' - 'a') return Class.Letter;
                if ((uint)(c - '0') <= 9) return Class.Number;
                return c is ' ' or (>= '\t' and <= '\r') ? Class.Space : Class.Other;
            }
            int cp = c;
            if (char.IsHighSurrogate(c) && i + 1 < end && char.IsLowSurrogate(s[i + 1]))
            {
                cp = char.ConvertToUtf32(c, s[i + 1]);
                length = 2;
            }
            if (cp is 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000)
                return Class.Space;
            return CharUnicodeInfo.GetUnicodeCategory(cp) switch
            {
                UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                    or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Class.Letter,
                UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Class.Number,
                _ => Class.Other,
            };
        }

        /// <summary>The end of the run of <paramref name="cls"/> code points starting at <paramref name="i"/>,
        /// taking at most <paramref name="max"/> of them.</summary>
        private static int Run(string s, int i, int end, Class cls, int max = int.MaxValue)
        {
            for (int n = 0; i < end && n < max; n++)
            {
                if (ClassAt(s, i, end, out int len) != cls) break;
                i += len;
            }
            return i;
        }

        private static bool IsNewline(char c) => c is '\r' or '\n';

        /// <summary>'s 't 're 've 'm 'll 'd, case-insensitively (Unicode case folding: ſ is s) for Llama 3 and Qwen.</summary>
        private int Contraction(string s, int i, int end)
        {
            if (s[i] != '\'' || i + 1 >= end) return 0;
            char a = Fold(s[i + 1]), b = i + 2 < end ? Fold(s[i + 2]) : '\0';
            if (a is 's' or 't' or 'm' or 'd') return 2;
            if ((a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l')) return 3;
            return 0;

            char Fold(char c) => gpt2 ? c : c == '\u017F' ? 's' : c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c;
        }

        public override bool NextMatch(string s, int from, int end, out int matchStart, out int matchEnd)
        {
            matchStart = from;
            matchEnd = from >= end ? end : MatchAt(s, from, end);
            return from < end;
        }

        private int MatchAt(string s, int p, int end)
        {
            int n = Contraction(s, p, end);
            if (n > 0) return p + n;
            Class first = ClassAt(s, p, end, out int firstLen);
            int afterFirst = p + firstLen;
            Class second = afterFirst < end ? ClassAt(s, afterFirst, end, out _) : Class.None;
            if (gpt2)
            {
                // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
                if (s[p] == ' ' && second is not (Class.Space or Class.None))
                    return Run(s, afterFirst, end, second);
                if (first != Class.Space) return Run(s, p, end, first);
            }
            else
            {
                // [^\r\n\p{L}\p{N}]?\p{L}+
                if (first is Class.Other or Class.Space && !IsNewline(s[p]) && second == Class.Letter)
                    return Run(s, afterFirst, end, Class.Letter);
                if (first == Class.Letter) return Run(s, p, end, Class.Letter);
                // \p{N}{1,3} or \p{N}
                if (first == Class.Number) return Run(s, p, end, Class.Number, maxDigits);
                // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
                int q = s[p] == ' ' && second == Class.Other ? afterFirst : p;
                if (ClassAt(s, q, end, out _) == Class.Other)
                {
                    q = Run(s, q, end, Class.Other);
                    while (q < end && IsNewline(s[q])) q++;
                    return q;
                }
                // \s*[\r\n]+ : up to the last newline of the whitespace run.
                int runEnd = Run(s, p, end, Class.Space);
                for (int k = runEnd - 1; k >= p; k--)
                    if (IsNewline(s[k])) return k + 1;
            }
            // \s+(?!\S) then \s+ (whitespace is all in the BMP: one char per code point)
            int e = Run(s, p, end, Class.Space);
            if (e == end || e - p == 1) return e;
            return e - 1;
        }
    }
}
