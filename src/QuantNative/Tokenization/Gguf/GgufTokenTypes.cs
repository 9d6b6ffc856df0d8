namespace QuantNative.Tokenization.Gguf;

/// <summary>tokenizer.ggml.token_type values (llama.cpp's llama_token_type / gguf-py's TokenType).</summary>
internal static class GgufTokenTypes
{
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    public static int Of(PieceKind kind) => kind switch
    {
        PieceKind.Unknown => Unknown, PieceKind.Control => Control, PieceKind.Byte => Byte, _ => Normal,
    };

    public static PieceKind ToKind(int type) => type switch
    {
        Unknown => PieceKind.Unknown, Control or Unused => PieceKind.Control, Byte => PieceKind.Byte, _ => PieceKind.Normal,
    };
}
