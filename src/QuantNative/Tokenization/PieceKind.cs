namespace QuantNative.Tokenization;

/// <summary>
/// What a vocabulary entry is, in SentencePiece's terms. Only <see cref="Normal"/> pieces take part in BPE merges
/// (SentencePiece keeps the others out of its piece table), and only Normal and Byte pieces produce text.
/// </summary>
public enum PieceKind
{
    Normal,
    Unknown,
    Control,
    Byte,
}
