using System.Text;

namespace QuantNative.Tokenization;

/// <summary>
/// SentencePiece's BPE encoding (as llama2.c implements it): the text is split into characters, each becomes its
/// piece or — when the vocabulary lacks it — its UTF-8 bytes' fallback tokens, and then the adjacent pair whose
/// concatenation is the highest-scoring piece is merged, the leftmost on ties, until no pair merges.
/// Byte-fallback tokens never merge (SentencePiece keeps byte pieces out of its merge table).
///
/// Done naively that is quadratic. Here the symbols form a linked list and the candidate pairs sit in a priority
/// queue ordered by (score desc, position asc); an entry whose symbols have changed since it was queued is skipped
/// when popped. Positions are the symbols' original indices, which stay in text order as symbols merge, so the
/// queue's order is exactly the naive scan's "highest score, leftmost" — the result is identical.
/// </summary>
internal sealed class ScoreBpeEncoder
{
    private readonly Dictionary<string, int> _pieceIds;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _pieceLookup;
    private readonly Dictionary<long, int> _merges;
    private readonly float[] _scores;
    private readonly int[] _byteIds;
    private readonly bool[] _mergeable; // by id: the left or right half of some merge

    /// <param name="pieces">Piece texts, in the same alphabet as the text given to Encode.</param>
    /// <param name="scores">Piece scores (only Normal pieces' scores matter).</param>
    /// <param name="kinds">Only Normal pieces are looked up and merged.</param>
    /// <param name="byteIds">The id of each byte's fallback token (256 entries).</param>
    public ScoreBpeEncoder(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<PieceKind> kinds,
        int[] byteIds)
    {
        _scores = [.. scores];
        _byteIds = byteIds;
        _pieceIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < pieces.Count; id++)
            if (kinds[id] == PieceKind.Normal && pieces[id].Length > 0)
                _pieceIds.TryAdd(pieces[id], id); // a duplicate piece can never be produced: the first id wins
        _pieceLookup = _pieceIds.GetAlternateLookup<ReadOnlySpan<char>>();

        // Every way a piece splits into two pieces is a pair that merges into it; looking pairs up by id avoids
        // building strings while encoding.
        _merges = [];
        _mergeable = new bool[pieces.Count];
        foreach (var (piece, id) in _pieceIds)
            for (int k = 1; k < piece.Length; k++)
                if (_pieceLookup.TryGetValue(piece.AsSpan(0, k), out int left)
                    && _pieceLookup.TryGetValue(piece.AsSpan(k), out int right))
                {
                    _merges[Key(left, right)] = id;
                    _mergeable[left] = _mergeable[right] = true;
                }
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Appends the ids of <paramref name="text"/> (no dummy prefix is added here) to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        // A UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair is 2 units, 4 bytes): one symbol each.
        int capacity = text.Length * 3;
        var token = new int[capacity];
        var frozen = new bool[capacity];
        int count = 0;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < text.Length;)
        {
            // An unpaired surrogate is not a character; like Encoding.UTF8 it becomes U+FFFD.
            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int used);
            if (_pieceLookup.TryGetValue(text.Slice(i, used), out int id))
                token[count++] = id;
            else
                for (int b = 0, n = rune.EncodeToUtf8(utf8); b < n; b++)
                {
                    frozen[count] = true;
                    token[count++] = _byteIds[utf8[b]];
                }
            i += used;
        }
        GreedyMerge.Run(token, count,
            (int left, int right, out ulong key, out int merged) =>
            {
                key = 0;
                merged = -1;
                if (frozen[left] || frozen[right] || !_merges.TryGetValue(Key(token[left], token[right]), out merged))
                    return false;
                key = MergeQueue.ScoreKey(_scores[merged], left);
                return true;
            },
            s => !frozen[s] && _mergeable[token[s]], output);
    }
}
