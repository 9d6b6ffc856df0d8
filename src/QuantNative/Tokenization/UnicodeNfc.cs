using System.Text;

namespace QuantNative.Tokenization;

/// <summary>
/// Unicode NFC (canonical decomposition, canonical ordering, canonical composition), written here because the tool
/// runs with InvariantGlobalization (no ICU, for the self-contained bundle), where string.Normalize leaves non-ASCII
/// text unchanged. Qwen's tokenizer.json normalizes with NFC, so "cafe\u0301" must encode as "café" does.
/// The tables in UnicodeNfc.Data.cs are generated with Python:
/// <code>
/// for cp in all code points except surrogates and Hangul syllables (those are algorithmic):
///   ccc = unicodedata.combining(chr(cp))                 → CombiningClassData when non-zero
///   d = unicodedata.decomposition(chr(cp)), canonical (no "&lt;tag&gt;"):
///     unicodedata.normalize("NFD", chr(cp))              → DecompositionData
///     two code points and normalize("NFC", chr(cp)) == chr(cp) → CompositionData (a primary composite)
/// </code>
/// </summary>
internal static partial class UnicodeNfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, int[]> Decompositions = BuildDecompositions();
    private static readonly Dictionary<long, int> Compositions = BuildCompositions();
    private static readonly Dictionary<int, byte> CombiningClasses = BuildClasses();

    private static Dictionary<int, int[]> BuildDecompositions()
    {
        var map = new Dictionary<int, int[]>();
        for (int i = 0; i < DecompositionData.Length;)
        {
            int cp = DecompositionData[i], n = DecompositionData[i + 1];
            map[cp] = DecompositionData.Slice(i + 2, n).ToArray();
            i += 2 + n;
        }
        return map;
    }

    private static Dictionary<long, int> BuildCompositions()
    {
        var map = new Dictionary<long, int>();
        for (int i = 0; i < CompositionData.Length; i += 3)
            map[Pair(CompositionData[i], CompositionData[i + 1])] = CompositionData[i + 2];
        return map;
    }

    private static Dictionary<int, byte> BuildClasses()
    {
        var map = new Dictionary<int, byte>();
        for (int i = 0; i < CombiningClassData.Length; i += 2) map[CombiningClassData[i]] = (byte)CombiningClassData[i + 1];
        return map;
    }

    private static long Pair(int a, int b) => ((long)a << 21) | (uint)b;

    private static int Class(int cp) => cp < 0x300 ? 0 : CombiningClasses.GetValueOrDefault(cp);

    /// <summary>The NFC form of <paramref name="text"/> (the same string when nothing changes).</summary>
    public static string Normalize(string text)
    {
        // Below U+0300 every character is a starter that NFC leaves alone, and none composes with a predecessor.
        int i = 0;
        while (i < text.Length && text[i] < 0x300) i++;
        if (i == text.Length) return text;

        var cps = new List<int>(text.Length + 8);
        for (int k = 0; k < text.Length;)
        {
            Rune.DecodeFromUtf16(text.AsSpan(k), out Rune r, out int used);
            k += used;
            Decompose(r.Value, cps);
        }
        // Canonical ordering: a stable sort of each run of non-starters by class.
        for (int k = 1; k < cps.Count; k++)
        {
            int c = Class(cps[k]);
            if (c == 0) continue;
            int j = k;
            while (j > 0 && Class(cps[j - 1]) > c)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
        // Canonical composition.
        var output = new List<int>(cps.Count);
        int starterAt = -1, lastClass = 256;
        foreach (int c in cps)
        {
            int cc = Class(c);
            if (starterAt >= 0 && (lastClass < cc || lastClass == 0) && TryCompose(output[starterAt], c, out int composite))
            {
                output[starterAt] = composite;
                continue;
            }
            if (cc == 0)
            {
                starterAt = output.Count;
                lastClass = 0;
            }
            else lastClass = cc;
            output.Add(c);
        }
        var sb = new StringBuilder(text.Length);
        foreach (int c in output) sb.Append(new Rune(c).ToString());
        return sb.ToString();
    }

    private static void Decompose(int cp, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (cp >= 0xC0 && Decompositions.TryGetValue(cp, out var d)) output.AddRange(d);
        else output.Add(cp);
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            composite = SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            return true;
        }
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            composite = first + (second - TBase);
            return true;
        }
        return Compositions.TryGetValue(Pair(first, second), out composite);
    }
}
