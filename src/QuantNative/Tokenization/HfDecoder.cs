using System.Text;

namespace QuantNative.Tokenization;

/// <summary>
/// A tokenizer.json "decoder" as Hugging Face runs it: each step maps the list of token strings to a new list, and
/// the result is joined. Steps: Replace (a literal pattern), ByteFallback (&lt;0xNN&gt; runs to UTF-8, U+FFFD per byte
/// when invalid), Fuse, Strip, ByteLevel (GPT-2 alphabet back to bytes), Metaspace, and Sequence of these.
/// Without a decoder Hugging Face joins the tokens with spaces.
/// </summary>
internal sealed class HfDecoder
{
    public abstract record Step;
    public sealed record Replace(string Pattern, string Content) : Step;
    public sealed record ByteFallback : Step;
    public sealed record Fuse : Step;
    public sealed record Strip(char Content, int Start, int Stop) : Step;
    public sealed record ByteLevel : Step;
    public sealed record Metaspace(char Replacement, bool StripFirstSpace) : Step;

    private readonly IReadOnlyList<Step>? _steps;

    /// <param name="steps">The decoder's steps in order, or null when the file has no decoder.</param>
    public HfDecoder(IReadOnlyList<Step>? steps) => _steps = steps;

    public string Decode(List<string> tokens)
    {
        if (_steps == null) return string.Join(' ', tokens);
        foreach (var step in _steps)
            tokens = step switch
            {
                Replace r => tokens.ConvertAll(t => t.Replace(r.Pattern, r.Content, StringComparison.Ordinal)),
                ByteFallback => DecodeByteFallback(tokens),
                Fuse => [string.Concat(tokens)],
                Strip s => tokens.ConvertAll(t => StripToken(t, s)),
                ByteLevel => [DecodeByteLevel(tokens)],
                Metaspace m => tokens.Select((t, i) =>
                {
                    t = t.Replace(m.Replacement, ' ');
                    return i == 0 && m.StripFirstSpace && t.StartsWith(' ') ? t[1..] : t;
                }).ToList(),
                _ => throw new InvalidOperationException(step.ToString()),
            };
        return string.Concat(tokens);
    }

    private static string StripToken(string t, Strip s)
    {
        int start = 0, stop = t.Length;
        for (int n = 0; n < s.Start && start < stop && t[start] == s.Content; n++) start++;
        for (int n = 0; n < s.Stop && stop > start && t[stop - 1] == s.Content; n++) stop--;
        return t[start..stop];
    }

    private static List<string> DecodeByteFallback(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        foreach (string t in tokens)
        {
            if (t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>'
                && byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            Flush();
            output.Add(t);
        }
        Flush();
        return output;

        void Flush()
        {
            if (bytes.Count == 0) return;
            try
            {
                output.Add(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                output.Add(new string('\uFFFD', bytes.Count));
            }
            bytes.Clear();
        }
    }

    /// <summary>Each token's characters back to bytes (a token with a character outside the alphabet gives its own
    /// UTF-8 instead), then the whole as UTF-8 with U+FFFD for invalid sequences.</summary>
    private static string DecodeByteLevel(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string t in tokens)
        {
            int mark = bytes.Count;
            bool inAlphabet = true;
            foreach (char c in t)
            {
                int b = ByteLevelAlphabet.Byte(c);
                if (b < 0) { inAlphabet = false; break; }
                bytes.Add((byte)b);
            }
            if (inAlphabet) continue;
            bytes.RemoveRange(mark, bytes.Count - mark);
            bytes.AddRange(Encoding.UTF8.GetBytes(t));
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }
}
