using System.Text;

namespace QuantNative.Tokenization;

/// <summary>
/// Token ids → text for a SentencePiece-style vocabulary: Normal pieces give their text, byte pieces give one raw
/// byte, and the bytes are decoded together as UTF-8 (so a character split into byte tokens comes back whole).
/// Unknown and control tokens (BOS, EOS) give nothing. One leading space — the dummy prefix that Encode adds — is
/// removed (for tokenizers that add one), so Decode(Encode(x)) == x.
/// </summary>
internal sealed class PieceDecoder
{
    private readonly byte[][] _utf8;
    private readonly PieceKind[] _kinds;
    private readonly byte[] _byteValues;
    private readonly string _source;
    private readonly bool _removeDummyPrefix;

    /// <param name="texts">The text of each piece with real spaces (not U+2581); ignored for non-Normal pieces.</param>
    /// <param name="kinds">The kind of each piece.</param>
    /// <param name="byteValues">The byte of each Byte piece; ignored for other kinds.</param>
    /// <param name="source">The tokenizer file, for messages.</param>
    /// <param name="removeDummyPrefix">Whether Encode adds a leading space that Decode must take away.</param>
    public PieceDecoder(IReadOnlyList<string> texts, IReadOnlyList<PieceKind> kinds, IReadOnlyList<byte> byteValues,
        string source, bool removeDummyPrefix = true)
    {
        int n = texts.Count;
        _utf8 = new byte[n][];
        _kinds = new PieceKind[n];
        _byteValues = new byte[n];
        for (int i = 0; i < n; i++)
        {
            _kinds[i] = kinds[i];
            _byteValues[i] = byteValues[i];
            _utf8[i] = kinds[i] == PieceKind.Normal ? Encoding.UTF8.GetBytes(texts[i]) : [];
        }
        _source = source;
        _removeDummyPrefix = removeDummyPrefix;
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_kinds.Length)
                throw new QuantNativeException(
                    $"{_source}: token id {id} is outside the vocabulary (0..{_kinds.Length - 1})");
            switch (_kinds[id])
            {
                case PieceKind.Normal: bytes.AddRange(_utf8[id]); break;
                case PieceKind.Byte: bytes.Add(_byteValues[id]); break;
                default: break; // <unk>, BOS, EOS: no text
            }
        }
        // Invalid UTF-8 (a generated sequence can stop inside a character) becomes U+FFFD rather than an error.
        string text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
        return _removeDummyPrefix && text.StartsWith(' ') ? text[1..] : text;
    }
}
