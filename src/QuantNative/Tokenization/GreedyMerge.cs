namespace QuantNative.Tokenization;

/// <summary>
/// The greedy BPE merge both encoders share: symbols in a linked list, candidate pairs in a priority queue keyed by
/// (priority, position), stale candidates skipped when popped. Identical to repeatedly merging the best pair,
/// leftmost on ties. The encoders differ only in how a pair's priority is found (SentencePiece: the merged piece's
/// score; tokenizer.json: the merge rule's rank) and in which symbols can never merge.
/// </summary>
internal static class GreedyMerge
{
    /// <summary>
    /// Finds the merge of the symbols at indices <paramref name="left"/> and <paramref name="right"/>: its queue key
    /// (<see cref="MergeQueue.ScoreKey"/> or <see cref="MergeQueue.RankKey"/>) and the merged token; false when they do not merge.
    /// </summary>
    public delegate bool PairLookup(int left, int right, out ulong key, out int merged);

    /// <summary>Merges <paramref name="token"/>[0..count) in place and appends the result to <paramref name="output"/>.</summary>
    /// <param name="mergeable">Whether the symbol at an index can take part in some merge.</param>
    public static void Run(int[] token, int count, PairLookup lookup, Func<int, bool> mergeable, List<int> output)
    {
        var next = new int[count];
        var prev = new int[count];
        for (int s = 0; s < count; s++)
        {
            prev[s] = s - 1;
            next[s] = s + 1 < count ? s + 1 : -1;
        }

        var queue = new MergeQueue(64);
        void Offer(int left, int right)
        {
            if (left < 0 || right < 0) return;
            if (lookup(left, right, out ulong key, out int merged))
                queue.Push(key, new MergeCandidate(left, right, token[left], token[right], merged));
        }
        // A symbol that can never merge splits the text into parts that cannot affect each other, so each part is
        // merged to completion on its own: the same result, with a small queue instead of one holding the whole text.
        for (int s = 0; s < count; s++)
        {
            if (s + 1 < count) Offer(s, s + 1);
            if (s + 1 < count && mergeable(s + 1)) continue;
            while (queue.TryPop(out var c))
            {
                // Stale: one of the two symbols merged (or died) after this pair was queued.
                if (token[c.Left] != c.LeftToken || token[c.Right] != c.RightToken || next[c.Left] != c.Right)
                    continue;
                token[c.Left] = c.Merged;
                token[c.Right] = -1;
                next[c.Left] = next[c.Right];
                if (next[c.Left] >= 0) prev[next[c.Left]] = c.Left;
                Offer(prev[c.Left], c.Left);
                Offer(c.Left, next[c.Left]);
            }
        }

        for (int s = count > 0 ? 0 : -1; s >= 0; s = next[s])
            output.Add(token[s]);
    }
}
