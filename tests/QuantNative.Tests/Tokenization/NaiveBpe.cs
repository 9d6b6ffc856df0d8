using System.Text;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>
/// The textbook quadratic form of llama2.c's encoder, kept deliberately simple as the reference for the fast one:
/// scan every adjacent pair, merge the first one whose concatenation is the highest-scoring Normal piece, repeat.
/// With <c>rightmostTies</c> the last such pair merges instead (what Microsoft.ML.Tokenizers does).
/// </summary>
internal static class NaiveBpe
{
    public static int[] Encode(Llama2cTokenizer tok, string text, bool addBos, bool rightmostTies = false)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tok.VocabSize; id++)
            if (tok.Kinds[id] == PieceKind.Normal && tok.Pieces[id].Length > 0)
                ids.TryAdd(tok.Pieces[id], id);

        // (text, id, mergeable): byte-fallback symbols never merge.
        var symbols = new List<(string Text, int Id, bool Mergeable)>();
        string withPrefix = text.Length > 0 ? " " + text : "";
        foreach (Rune r in withPrefix.EnumerateRunes())
        {
            string s = r.ToString();
            if (ids.TryGetValue(s, out int id))
                symbols.Add((s, id, true));
            else
                foreach (byte b in Encoding.UTF8.GetBytes(s))
                    symbols.Add(("", Llama2cTokenizer.FirstByteId + b, false));
        }

        while (true)
        {
            int best = -1, bestId = -1;
            float bestScore = float.NegativeInfinity;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                if (!symbols[i].Mergeable || !symbols[i + 1].Mergeable) continue;
                if (ids.TryGetValue(symbols[i].Text + symbols[i + 1].Text, out int id)
                    && (best < 0 || tok.Scores[id] > bestScore || (rightmostTies && tok.Scores[id] == bestScore)))
                {
                    best = i; bestId = id; bestScore = tok.Scores[id];
                }
            }
            if (best < 0) break;
            symbols[best] = (symbols[best].Text + symbols[best + 1].Text, bestId, true);
            symbols.RemoveAt(best + 1);
        }

        var result = new List<int>();
        if (addBos) result.Add(tok.BosId);
        result.AddRange(symbols.Select(s => s.Id));
        return [.. result];
    }
}
