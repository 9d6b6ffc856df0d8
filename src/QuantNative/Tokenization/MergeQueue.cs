namespace QuantNative.Tokenization;

/// <summary>A candidate merge of the adjacent symbols Left and Right, which held LeftToken and RightToken when queued.</summary>
internal readonly record struct MergeCandidate(int Left, int Right, int LeftToken, int RightToken, int Merged);

/// <summary>
/// A binary min-heap of merge candidates keyed by one 64-bit number (priority in the high half, the left symbol's
/// position in the low half), so one integer comparison orders "best merge first, leftmost on ties". Written out
/// rather than using PriorityQueue with a comparer: encoding a long text spends most of its time here.
/// </summary>
internal sealed class MergeQueue
{
    private ulong[] _keys;
    private MergeCandidate[] _items;
    private int _count;

    public MergeQueue(int capacity)
    {
        _keys = new ulong[Math.Max(capacity, 4)];
        _items = new MergeCandidate[_keys.Length];
    }

    /// <summary>The key for a score where higher is better (SentencePiece): descending score, then position.</summary>
    public static ulong ScoreKey(float score, int position)
    {
        if (score == 0) score = 0; // -0 and +0 tie, as they do for the naive scan's '>' comparison
        int bits = BitConverter.SingleToInt32Bits(score);
        // Map floats onto unsigned integers in ascending order, then invert so the highest score is smallest.
        uint ascending = bits < 0 ? ~(uint)bits : (uint)bits | 0x8000_0000u;
        return ((ulong)~ascending << 32) | (uint)position;
    }

    /// <summary>The key for a rank where lower is better (Hugging Face merges): ascending rank, then position.</summary>
    public static ulong RankKey(int rank, int position) => ((ulong)(uint)rank << 32) | (uint)position;

    public void Push(ulong key, in MergeCandidate item)
    {
        if (_count == _keys.Length)
        {
            Array.Resize(ref _keys, _count * 2);
            Array.Resize(ref _items, _count * 2);
        }
        int i = _count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (_keys[parent] <= key) break;
            _keys[i] = _keys[parent];
            _items[i] = _items[parent];
            i = parent;
        }
        _keys[i] = key;
        _items[i] = item;
    }

    public bool TryPop(out MergeCandidate item)
    {
        if (_count == 0)
        {
            item = default;
            return false;
        }
        item = _items[0];
        int last = --_count;
        if (last == 0) return true;
        ulong key = _keys[last];
        var moving = _items[last];
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= last) break;
            if (child + 1 < last && _keys[child + 1] < _keys[child]) child++;
            if (_keys[child] >= key) break;
            _keys[i] = _keys[child];
            _items[i] = _items[child];
            i = child;
        }
        _keys[i] = key;
        _items[i] = moving;
        return true;
    }
}
