namespace QuantNative.Tests.Formats.Gptq;

/// <summary>
/// The word layout of AutoGPTQ's QuantLinear.pack, restated word by word as that code describes it (an independent
/// statement of the format, not our bit-stream formulation): for 2/4/8 bits, 32/bits values per word, value j of the
/// word at shift bits·j; for 3 bits, 32 values in 3 words with values 10 and 21 split across word boundaries.
/// Count must be a multiple of 32 (the shapes AutoGPTQ handles).
/// </summary>
public static class AutoGptqLayoutOracle
{
    public static uint[] Pack(int[] v, int bits)
    {
        if (v.Length % 32 != 0) throw new ArgumentException("AutoGPTQ packs multiples of 32 values");
        var words = new List<uint>();
        if (bits != 3)
        {
            int perWord = 32 / bits;
            for (int i = 0; i < v.Length; i += perWord)
            {
                uint word = 0;
                for (int j = 0; j < perWord; j++) word |= (uint)v[i + j] << (bits * j);
                words.Add(word);
            }
            return words.ToArray();
        }
        for (int i = 0; i < v.Length; i += 32)
        {
            uint w0 = 0, w1 = 0, w2 = 0;
            for (int j = 0; j < 10; j++) w0 |= (uint)v[i + j] << (3 * j);
            w0 |= (uint)v[i + 10] << 30;                 // low two bits of value 10
            w1 |= ((uint)v[i + 10] >> 2) & 1;           // its high bit
            for (int j = 0; j < 10; j++) w1 |= (uint)v[i + 11 + j] << (3 * j + 1);
            w1 |= (uint)v[i + 21] << 31;                 // low bit of value 21
            w2 |= ((uint)v[i + 21] >> 1) & 3;           // its high two bits
            for (int j = 0; j < 10; j++) w2 |= (uint)v[i + 22 + j] << (3 * j + 2);
            words.AddRange([w0, w1, w2]);
        }
        return words.ToArray();
    }
}
