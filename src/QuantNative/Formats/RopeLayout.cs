namespace QuantNative.Formats;

/// <summary>
/// The two ways checkpoints order the rows of wq and wk for RoPE. Meta's original (and llama2.c's) rotates adjacent
/// pairs (2i, 2i+1) of each head; Hugging Face's rotates halves (i, i + headDim/2). The models are the same up to a
/// fixed permutation of the output rows within each head, which is Transformers' convert script `permute`:
/// w.view(heads, headDim/2, 2, in).transpose(1, 2). QuantNative works in the rotate-half layout.
/// </summary>
public static class RopeLayout
{
    /// <summary>
    /// Adjacent-pair rows → rotate-half rows: within each head, new row i = old row 2i and new row headDim/2 + i =
    /// old row 2i + 1 (i &lt; headDim/2). <paramref name="weight"/> is [heads·headDim, columns], row-major.
    /// </summary>
    public static float[] AdjacentPairsToRotateHalf(ReadOnlySpan<float> weight, int heads, int headDim, int columns)
        => Permute(weight, heads, headDim, columns, toRotateHalf: true);

    /// <summary>The inverse of <see cref="AdjacentPairsToRotateHalf"/>: rotate-half rows → adjacent-pair rows.</summary>
    public static float[] RotateHalfToAdjacentPairs(ReadOnlySpan<float> weight, int heads, int headDim, int columns)
        => Permute(weight, heads, headDim, columns, toRotateHalf: false);

    private static float[] Permute(ReadOnlySpan<float> weight, int heads, int headDim, int columns, bool toRotateHalf)
    {
        if (heads <= 0 || columns <= 0 || headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentException($"RoPE permutation needs positive sizes and an even head dimension " +
                                        $"(heads {heads}, headDim {headDim}, columns {columns})");
        if (weight.Length != (long)heads * headDim * columns)
            throw new ArgumentException($"RoPE permutation: {weight.Length} elements is not " +
                                        $"{heads}·{headDim}·{columns}");
        var result = new float[weight.Length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
        {
            long head = (long)h * headDim;
            for (int i = 0; i < half; i++)
            for (int parity = 0; parity < 2; parity++)
            {
                long pairRow = head + 2 * i + parity;       // row in the adjacent-pair layout
                long halfRow = head + parity * half + i;    // the same row in the rotate-half layout
                long from = toRotateHalf ? pairRow : halfRow;
                long to = toRotateHalf ? halfRow : pairRow;
                weight.Slice((int)(from * columns), columns).CopyTo(result.AsSpan((int)(to * columns), columns));
            }
        }
        return result;
    }
}
