namespace QuantNative.Formats.Gptq;

/// <summary>
/// The GPTQ checkpoint's bit layout along one dimension: value k occupies bits [bits·k, bits·(k+1)) of a little-endian
/// stream of 32-bit words. For 2/4/8 bits that is AutoGPTQ's "value j of a word at shift bits·j"; for 3 bits it is
/// exactly its 32-values-in-3-words scheme (values 10 and 21 straddle words: value 10 has its low two bits in bits
/// 30–31 of word 0 and its high bit in bit 0 of word 1; value 21 has its low bit in bit 31 of word 1 and its high two
/// bits in bits 0–1 of word 2). When count·bits is not a multiple of 32 the last word is padded with zero bits — the
/// runtimes need count·bits to be a multiple of 32 (every real LLaMA shape is), our loader does not.
/// </summary>
public static class BitStream32
{
    /// <summary>Words that hold <paramref name="count"/> values of <paramref name="bits"/> bits.</summary>
    public static int Words(int count, int bits) => (int)(((long)count * bits + 31) / 32);

    /// <summary>Whether the words hold the values with no padding (what the runtimes' shapes assume).</summary>
    public static bool IsExact(int count, int bits) => (long)count * bits % 32 == 0;

    /// <summary>
    /// Packs values[k·valueStride] (k &lt; count, each &lt; 2^bits) into words[w·wordStride]; the caller checks ranges.
    /// </summary>
    public static void Pack(ReadOnlySpan<int> values, int valueStride, int count, int bits, Span<int> words, int wordStride)
    {
        ulong pending = 0;
        int pendingBits = 0, w = 0;
        ulong mask = (1UL << bits) - 1;
        for (int k = 0; k < count; k++)
        {
            pending |= ((ulong)values[k * valueStride] & mask) << pendingBits;
            pendingBits += bits;
            if (pendingBits >= 32)
            {
                words[w++ * wordStride] = (int)(uint)pending;
                pending >>= 32;
                pendingBits -= 32;
            }
        }
        if (pendingBits > 0) words[w * wordStride] = (int)(uint)pending;
    }

    /// <summary>The inverse of <see cref="Pack"/>: values[k·valueStride] for k &lt; count.</summary>
    public static void Unpack(ReadOnlySpan<int> words, int wordStride, int count, int bits, Span<int> values, int valueStride)
    {
        int wordCount = Words(count, bits);
        uint mask = (1u << bits) - 1;
        for (int k = 0; k < count; k++)
        {
            long bit = (long)k * bits;
            int w = (int)(bit >> 5), offset = (int)(bit & 31);
            ulong pair = (uint)words[w * wordStride];
            if (offset + bits > 32 && w + 1 < wordCount) pair |= (ulong)(uint)words[(w + 1) * wordStride] << 32;
            values[k * valueStride] = (int)((uint)(pair >> offset) & mask);
        }
    }
}
