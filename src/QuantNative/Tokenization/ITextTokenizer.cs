namespace QuantNative.Tokenization;

/// <summary>
/// Text ↔ token ids for a LLaMA-family vocabulary (SentencePiece BPE with byte fallback).
/// Encode adds the SentencePiece dummy-prefix space; Decode removes it, so Decode(Encode(x, false)) == x.
/// </summary>
public interface ITextTokenizer
{
    int VocabSize { get; }
    int BosId { get; }
    int EosId { get; }

    /// <summary>Token ids of <paramref name="text"/>, with BOS first when <paramref name="addBos"/>.</summary>
    int[] Encode(string text, bool addBos);

    /// <summary>The text of a token sequence (BOS/EOS dropped, byte-fallback tokens joined into UTF-8).</summary>
    string Decode(ReadOnlySpan<int> ids);
}
