namespace QuantNative.Tokenization;

/// <summary>
/// GPT-2's byte ↔ character map, which byte-level BPE (GPT-2, Llama 3, Qwen) uses so that every byte has a printable
/// character in the vocabulary: the printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves and
/// the other 68 bytes take U+0100, U+0101, … in byte order (so a space is 'Ġ' U+0120 and a newline 'Ċ' U+010A).
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = Build();
    private static readonly int[] CharToByte = Invert(ByteToChar);

    private static char[] Build()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    private static int[] Invert(char[] map)
    {
        var inverse = new int[512];
        Array.Fill(inverse, -1);
        for (int b = 0; b < 256; b++) inverse[map[b]] = b;
        return inverse;
    }

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    public static char Char(byte b) => ByteToChar[b];

    /// <summary>The byte a character stands for, or -1 when it is not in the alphabet.</summary>
    public static int Byte(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    /// <summary>Writes the characters of <paramref name="utf8"/>'s bytes, one per byte.</summary>
    public static void Map(ReadOnlySpan<byte> utf8, Span<char> chars)
    {
        for (int i = 0; i < utf8.Length; i++) chars[i] = ByteToChar[utf8[i]];
    }
}
