namespace QuantNative.Tokenization;

/// <summary>
/// Finds added tokens (tokenizer.json's added_tokens) written out in text, as Hugging Face's AddedVocabulary does:
/// leftmost match first and, among matches starting there, the longest. The text between matches is what the
/// normalizer, pre-tokenizer and model see; a matched token becomes its id.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, (string Content, int Id)[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<(string Content, int Id)> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            // Longest first, so the first hit at a position is the longest; equal contents keep the first listed.
            .ToDictionary(g => g.Key, g => g.DistinctBy(t => t.Content).OrderByDescending(t => t.Content.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>Calls <paramref name="onText"/> for each stretch of text between matches (never empty) and
    /// <paramref name="onToken"/> for each match, in order.</summary>
    public void Split(string text, int start, int end, Action<int, int> onText, Action<int> onToken)
    {
        int plain = start;
        for (int i = start; i < end; i++)
        {
            if (!_byFirstChar.TryGetValue(text[i], out var candidates)) continue;
            var rest = text.AsSpan(i, end - i);
            foreach (var (content, id) in candidates)
            {
                if (!rest.StartsWith(content, StringComparison.Ordinal)) continue;
                if (i > plain) onText(plain, i);
                onToken(id);
                i += content.Length - 1;
                plain = i + 1;
                break;
            }
        }
        if (end > plain) onText(plain, end);
    }
}
