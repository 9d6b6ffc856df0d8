using System.Text;

namespace QuantNative.Tokenization;

/// <summary>
/// Hugging Face's BPE (tokenizers' BPE model, as LLaMA's tokenizer.json configures it): each character becomes its
/// vocabulary token, or its UTF-8 bytes' &lt;0xXX&gt; tokens with byte fallback, or &lt;unk&gt; (consecutive ones fused
/// when fuse_unk); then the adjacent pair with the lowest merge rank merges, leftmost first, until none is listed.
/// Same linked list and lazily invalidated queue as <see cref="ScoreBpeEncoder"/>, keyed by (rank, position) as
/// tokenizers' own priority queue is.
/// </summary>
internal sealed class RankBpeEncoder
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocab;
    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly int[]? _byteIds;
    private readonly int _unknownId;
    private readonly bool _fuseUnknown;
    private readonly bool _ignoreMerges;
    private readonly HashSet<int> _mergeable = []; // ids that are the left or right half of some rule

    /// <param name="vocab">Piece → id.</param>
    /// <param name="merges">Merge rules in rank order, as id pairs whose concatenation is in the vocabulary.</param>
    /// <param name="byteIds">The &lt;0xXX&gt; token of each byte (-1 where the vocabulary lacks it: a character with
    /// such a byte becomes &lt;unk&gt;, as in tokenizers), or null without byte fallback.</param>
    /// <param name="unknownId">The &lt;unk&gt; id, or -1 when characters outside the vocabulary are dropped.</param>
    public RankBpeEncoder(Dictionary<string, int> vocab, IReadOnlyList<(int Left, int Right, int Merged)> merges,
        int[]? byteIds, int unknownId, bool fuseUnknown, bool ignoreMerges)
    {
        _vocab = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            // A repeated rule keeps its last rank, as tokenizers' map (built by collecting the list) does.
            _merges[Key(merges[rank].Left, merges[rank].Right)] = (rank, merges[rank].Merged);
            _mergeable.Add(merges[rank].Left);
            _mergeable.Add(merges[rank].Right);
        }
        _byteIds = byteIds;
        _unknownId = unknownId;
        _fuseUnknown = fuseUnknown;
        _ignoreMerges = ignoreMerges;
    }

    private bool IsMergeable(int id) => _mergeable.Contains(id);

    private bool AllBytesKnown(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            if (_byteIds![b] < 0) return false;
        return true;
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Appends the ids of one pre-tokenized, normalized word.</summary>
    public void Encode(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.IsEmpty) return;
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }

        var token = new int[word.Length * 3];
        int count = 0;
        bool pendingUnknown = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            Rune.DecodeFromUtf16(word[i..], out Rune rune, out int used);
            if (_vocab.TryGetValue(word.Slice(i, used), out int id))
            {
                FlushUnknown();
                token[count++] = id;
            }
            else if (_byteIds != null && AllBytesKnown(utf8[..rune.EncodeToUtf8(utf8)]))
            {
                FlushUnknown();
                foreach (byte b in utf8[..rune.Utf8SequenceLength])
                    token[count++] = _byteIds[b];
            }
            else if (_unknownId >= 0)
            {
                if (!_fuseUnknown) FlushUnknown();
                pendingUnknown = true;
            }
            i += used;
        }
        FlushUnknown();

        void FlushUnknown()
        {
            if (pendingUnknown) token[count++] = _unknownId;
            pendingUnknown = false;
        }

        GreedyMerge.Run(token, count,
            (int left, int right, out ulong key, out int merged) =>
            {
                key = 0;
                merged = -1;
                if (!_merges.TryGetValue(Key(token[left], token[right]), out var m)) return false;
                key = MergeQueue.RankKey(m.Rank, left);
                merged = m.Merged;
                return true;
            },
            s => IsMergeable(token[s]), output);
    }
}
