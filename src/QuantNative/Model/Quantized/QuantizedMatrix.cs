namespace QuantNative.Model.Quantized;

/// <summary>
/// A quantized weight matrix W [out, in] (y = x·Wᵀ) in the unpacked form every method produces and the packer
/// consumes: integer codes [out, in] in the natural column order, per-group scales and zeros [out, groups], and
/// g_idx [in] giving each input column's group (not monotone after GPTQ act-order). Scales are exactly the fp16 values
/// a checkpoint stores, so <see cref="Dequantize"/> is what a runtime computes from the packed tensors.
/// </summary>
public sealed class QuantizedMatrix
{
    public int Rows { get; }
    public int Columns { get; }
    public QuantizerConfig Config { get; }

    /// <summary>Group count and size; with act-order the members of a group are given by <see cref="GroupIndex"/>.</summary>
    public GroupLayout Layout { get; }

    /// <summary>Codes in [0, qmax], row-major [Rows, Columns].</summary>
    public byte[] Codes { get; }

    /// <summary>Scales, row-major [Rows, Groups]; each is an fp16 value.</summary>
    public float[] Scales { get; }

    /// <summary>Zero points in [0, qmax], row-major [Rows, Groups]; all 0 (unused) for a free-minimum quantizer.</summary>
    public int[] Zeros { get; }

    /// <summary><see cref="QuantizerConfig.FreeMinimum"/>: each group's offset m (an fp16 value), row-major
    /// [Rows, Groups], ŵ = q·s + m; null for every other quantizer.</summary>
    public float[]? Minimums { get; }

    /// <summary>g_idx: the group of each input column, [Columns].</summary>
    public int[] GroupIndex { get; }

    public int Groups => Layout.Groups;

    /// <summary>Validates every invariant the packer and the runtimes rely on; <paramref name="tensor"/> names it in errors.</summary>
    public QuantizedMatrix(int rows, int columns, QuantizerConfig config, byte[] codes, float[] scales, int[] zeros,
        int[] groupIndex, string tensor = "weight", float[]? minimums = null)
    {
        if (rows <= 0 || columns <= 0)
            throw new QuantNativeException($"{tensor}: shape [{rows}, {columns}]: expected positive dimensions");
        var layout = config.Layout(columns);
        Expect(codes.Length, (long)rows * columns, tensor, "codes");
        Expect(scales.Length, (long)rows * layout.Groups, tensor, "scales");
        Expect(zeros.Length, (long)rows * layout.Groups, tensor, "zeros");
        Expect(groupIndex.Length, columns, tensor, "g_idx");
        if (config.FreeMinimum != (minimums != null))
            throw new QuantNativeException($"{tensor}: {(minimums == null ? "no minimums for a free-minimum quantizer" : $"minimums for a {config} quantizer, which has zero points")}");
        if (minimums != null)
        {
            Expect(minimums.Length, (long)rows * layout.Groups, tensor, "minimums");
            for (int i = 0; i < minimums.Length; i++)
                if (!float.IsFinite(minimums[i]) || (float)(Half)minimums[i] != minimums[i] || zeros[i] != 0)
                    throw new QuantNativeException($"{tensor}: minimum {minimums[i]:R} (zero {zeros[i]}) at [{i / layout.Groups}, " +
                                                   $"{i % layout.Groups}]: expected a finite value exactly representable in fp16, zero 0");
        }
        int qmax = config.MaxCode;
        for (int i = 0; i < codes.Length; i++)
            if (codes[i] > qmax)
                throw new QuantNativeException($"{tensor}: code {codes[i]} at [{i / columns}, {i % columns}] exceeds " +
                                               $"qmax = {qmax} for {config.Bits} bits");
        for (int i = 0; i < scales.Length; i++)
        {
            float s = scales[i];
            // Symmetric groups may have negative scales: (q − h)·s with s < 0 is the grid whose extra level is above
            // zero (learned symmetric clipping; GGUF's Q4_0/Q3_K scales are signed the same way).
            if (!(config.Symmetric ? s != 0f : s > 0f) || !float.IsFinite(s) || (float)(Half)s != s)
                throw new QuantNativeException($"{tensor}: scale {s:R} at [{i / layout.Groups}, {i % layout.Groups}]: " +
                                               $"expected a {(config.Symmetric ? "nonzero" : "positive")}, finite value exactly representable in fp16");
            if (zeros[i] < 0 || zeros[i] > qmax)
                throw new QuantNativeException($"{tensor}: zero {zeros[i]} at [{i / layout.Groups}, {i % layout.Groups}]: " +
                                               $"expected 0..{qmax}");
        }
        for (int c = 0; c < columns; c++)
            if (groupIndex[c] < 0 || groupIndex[c] >= layout.Groups)
                throw new QuantNativeException($"{tensor}: g_idx[{c}] = {groupIndex[c]}: expected 0..{layout.Groups - 1}");
        Rows = rows; Columns = columns; Config = config; Layout = layout;
        Codes = codes; Scales = scales; Zeros = zeros; GroupIndex = groupIndex; Minimums = minimums;
    }

    /// <summary>Whether g_idx is the natural order (no act-order permutation): column c in group c / g.</summary>
    public bool HasNaturalOrder
    {
        get
        {
            for (int c = 0; c < Columns; c++)
                if (GroupIndex[c] != Layout.GroupOf(c)) return false;
            return true;
        }
    }

    /// <summary>g_idx of the natural order: column c is in group c / g.</summary>
    public static int[] NaturalGroupIndex(GroupLayout layout)
    {
        var g = new int[layout.Columns];
        for (int c = 0; c < g.Length; c++) g[c] = layout.GroupOf(c);
        return g;
    }

    /// <summary>ŵ[r, c] = (q[r, c] − z[r, g_idx[c]])·s[r, g_idx[c]] (free minimum: q·s + m), row-major [Rows, Columns].</summary>
    public float[] Dequantize()
    {
        var w = new float[Rows * Columns];
        DequantizeInto(w);
        return w;
    }

    public void DequantizeInto(Span<float> destination)
    {
        if (destination.Length < Rows * Columns)
            throw new ArgumentException($"destination has {destination.Length} elements, needs {Rows * Columns}");
        int groups = Groups;
        for (int r = 0; r < Rows; r++)
        {
            int codeRow = r * Columns, paramRow = r * groups;
            for (int c = 0; c < Columns; c++)
            {
                int g = paramRow + GroupIndex[c];
                destination[codeRow + c] = Minimums is { } m
                    ? UniformQuantizer.DequantizeFreeMinimum(Codes[codeRow + c], Scales[g], m[g])
                    : UniformQuantizer.Dequantize(Codes[codeRow + c], Scales[g], Zeros[g]);
            }
        }
    }

    private static void Expect(long actual, long expected, string tensor, string what)
    {
        if (actual != expected)
            throw new QuantNativeException($"{tensor}: {what} has {actual} elements, expected {expected}");
    }
}
