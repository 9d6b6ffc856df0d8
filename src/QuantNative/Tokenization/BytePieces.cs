using System.Globalization;

namespace QuantNative.Tokenization;

/// <summary>The byte-fallback piece names shared by llama2.c, SentencePiece and Hugging Face: "&lt;0x0A&gt;".</summary>
public static class BytePieces
{
    /// <summary>The piece for byte <paramref name="b"/>: two upper-case hex digits, as SentencePiece writes them.</summary>
    public static string Name(byte b) => "<0x" + b.ToString("X2", CultureInfo.InvariantCulture) + ">";

    /// <summary>True when <paramref name="piece"/> is exactly a byte-fallback name (upper-case hex only).</summary>
    public static bool TryParse(string piece, out byte value)
    {
        value = 0;
        if (piece.Length != 6 || !piece.StartsWith("<0x", StringComparison.Ordinal) || piece[5] != '>')
            return false;
        // Lower-case hex would not round-trip through Name, and no tokenizer we read writes it.
        if (!IsUpperHex(piece[3]) || !IsUpperHex(piece[4]))
            return false;
        value = byte.Parse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        return true;
    }

    private static bool IsUpperHex(char c) => c is >= '0' and <= '9' or >= 'A' and <= 'F';
}
