using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gguf;

/// <summary>
/// Writes a model as a GGUF file llama.cpp runs. The block linears take the requested type where their shape and
/// source allow and otherwise llama.cpp's own fallback (llama-quant.cpp: a row not a multiple of 256 turns Q2_K/Q3_K
/// into IQ4_NL, Q4_K into Q5_0, Q5_K into Q5_1, Q6_K into Q8_0; a row not a multiple of 32 into F16); every fallback
/// is in the report. Block-32 types are made from qn's codes when the codes fit the type (exactly: same integers, same
/// fp16 scales), otherwise from the weights with ggml's reference quantizer; K-quants from the learned W' (or the
/// dequantized weights) with the groups' ranges as each sub-block's starting range. Norms and biases are F32 (as
/// convert_hf_to_gguf writes every 1-D tensor), the embedding and output in the source's dtype (in the requested type when that is a float type).
/// </summary>
public static class GgufExporter
{
    /// <summary>The type choice of the command line: a ggml type, or null for "auto" (exact from the codes when they
    /// fit a block-32 type, else the source's float type).</summary>
    public static IReadOnlyList<GgufTensorReport> Write(GgufExportSource src, string path, GgmlType? requested,
        IReadOnlyList<KeyValuePair<string, GgufValue>> tokenizerMetadata, string name, bool overwrite,
        Action<string>? afterTensor = null, Action<long, long, string>? progress = null)
    {
        var c = src.Config;
        GgufArchitecture.Check(c, path);
        string arch = GgufArchitecture.For(c);
        var reports = new List<GgufTensorReport>();
        var plans = new List<GgufTensorPlan>();
        // A float --type is every matrix's type (convert_hf_to_gguf's --outtype); with a quantized type the embedding and
        // output stay in the source's dtype.
        var matrixType = requested is { } r && r.IsFloat() ? r
            : src.MatrixDType switch { FloatDType.F16 => GgmlType.F16, FloatDType.BF16 => GgmlType.BF16, _ => GgmlType.F32 };

        void Float(string tensor, long[] dims, GgmlType type, Func<float[]> values) =>
            plans.Add(new GgufTensorPlan(tensor, dims, type, () => FloatBytes(values(), type)));

        Float(GgufArchitecture.TokenEmbedding, [c.HiddenSize, c.VocabSize], matrixType, src.Embedding);
        if (c.RopeScaling.Type == RopeType.Llama3)
            Float(GgufArchitecture.RopeFreqs, [c.HeadDim / 2], GgmlType.F32, () => GgufArchitecture.RopeFrequencyFactors(c));
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            int l = layer;
            Float(GgufArchitecture.AttnNorm(l), [c.HiddenSize], GgmlType.F32, () => src.Block(l).AttnNorm);
            foreach (var linear in BlockLinears.All)
            {
                var (rows, columns) = linear.Shape(c);
                string tensor = GgufArchitecture.Linear(l, linear.Part);
                var (codes, learned, weighted) = src.ChoiceOf?.Invoke(l, linear.Part)
                    ?? (src.Codes(l, linear.Part), src.Learned(l, linear.Part) != null, src.Importance(l, linear.Part) != null);
                // auto without codes: the linears stay in the source's float type.
                var choice = Choose(requested ?? (codes == null ? matrixType : null), columns, codes, learned, tensor, weighted);
                var part = linear.Part;
                plans.Add(new GgufTensorPlan(tensor, [columns, rows], choice.Type, () =>
                {
                    var made = MakeLinear(src, arch, l, linear, choice, tensor);
                    reports.Add(made.Report);
                    return made.Bytes;
                }));
            }
            Float(GgufArchitecture.FfnNorm(l), [c.HiddenSize], GgmlType.F32, () => src.Block(l).FfnNorm);
            foreach (var extra in BlockExtraParts.Of(c))
            {
                var spec = extra;
                Float(GgufArchitecture.Extra(l, spec.Part), [spec.Length(c)], GgmlType.F32,
                    () => GgufArchitecture.ToGgufRows(arch, spec.Part, spec.Get(src.Block(l).Extras)!, c, 1));
            }
        }
        Float(GgufArchitecture.OutputNorm, [c.HiddenSize], GgmlType.F32, src.FinalNorm);
        if (!c.TieWordEmbeddings) Float(GgufArchitecture.Output, [c.HiddenSize, c.VocabSize], matrixType, () => src.Output()!);

        var metadata = new List<KeyValuePair<string, GgufValue>>
        {
            new("general.architecture", GgufValue.Of(arch)),
            new("general.name", GgufValue.Of(name)),
            new("general.alignment", GgufValue.Of((uint)GgufWriter.DefaultAlignment)),
        };
        var linearTypes = plans.Where(p => p.Name.StartsWith("blk.", StringComparison.Ordinal) && p.Dims.Length == 2)
            .Select(p => p.Type).ToList();
        metadata.Add(new("general.file_type", GgufValue.Of(FileType(linearTypes, matrixType))));
        if (linearTypes.Any(t => !t.IsFloat())) metadata.Add(new("general.quantization_version", GgufValue.Of(2u)));
        metadata.AddRange(GgufArchitecture.HyperParameters(c));
        metadata.Add(new(GgufArchitecture.QnMethod, GgufValue.Of(src.Method)));
        metadata.AddRange(tokenizerMetadata);
        int written = 0;
        GgufWriter.Write(path, metadata, plans, overwrite, name =>
        {
            afterTensor?.Invoke(name);
            progress?.Invoke(++written, plans.Count, name);
        });
        return reports;
    }

    /// <summary>A linear's type and how its blocks are made.</summary>
    public sealed record Choice(GgmlType Type, string How, string? Fallback);

    public static Choice Choose(GgmlType? requested, int columns, QuantizedMatrix? codes, bool learned, string tensor,
        bool weighted = false)
    {
        if (requested is not { } asked)
        {
            if (codes == null) return Fits(GgmlType.F32, columns, tensor) with { How = "as stored" };
            asked = AutoType(codes.Config)
                    ?? throw new QuantNativeException($"{tensor}: {codes.Config} codes fit no GGUF block type exactly (Q4_0/Q5_0/Q8_0 hold " +
                                                      "symmetric W≤4/W5/W≤8 g32, Q4_1/Q5_1 W≤4/W5 g32); give --type");
            var auto = Fits(asked, columns, tensor);
            if (!auto.Type.IsFloat() && !ExactTypes(codes).Contains(auto.Type))
                throw new QuantNativeException($"{tensor}: its codes are not in natural column order (act-order g_idx), so no " +
                                               "block-32 type holds them exactly; give --type to requantize");
        }
        var fitted = Fits(asked, columns, tensor);
        var type = fitted.Type;
        if (type.IsFloat()) return fitted with { How = codes != null ? "dequantized codes" : "as stored" };
        if (codes != null && ExactTypes(codes).Contains(type)) return fitted with { How = "exact from codes" };
        if (learned && OnLearnedGrid(type, codes))
            return fitted with
            {
                How = $"from the learned symmetric codes ({type}'s grid; its sub-block scales to {(type == GgmlType.Q3_K ? 6 : 8)} bits)" + (weighted ? ", weighted by the inputs' Σx²" : ""),
            };
        if (learned && OnLearnedFreeMinimumGrid(type, codes))
            return fitted with
            {
                How = $"from W' on the learned free-minimum grid ({type}'s sub-blocks keep their group's scale and minimum, rounded to {(type == GgmlType.Q2_K ? 4 : 6)} bits)",
            };
        if (type.IsKQuant())
            return fitted with
            {
                How = (learned ? "from W' with the learned clipping as start" : codes != null ? "from the dequantized weights with the groups' ranges as start" : "from the weights (llama.cpp's reference search)")
                      + (weighted ? ", weighted by the inputs' Σx²" : ""),
            };
        return fitted with { How = learned ? "from W' (reference quantizer)" : codes != null ? "requantized from the dequantized weights (reference quantizer)" : "from the weights (reference quantizer)" };
    }

    /// <summary>
    /// Whether a symmetric K-quant holds <paramref name="codes"/>' grid: Q3_K (16-weight sub-blocks, codes −4..3, signed
    /// scales) for symmetric W≤3, Q6_K (−32..31) for W≤6, groups a multiple of 16 in natural column order, so each
    /// sub-block lies in one group. A learned symmetric run then trained against that grid itself: its codes are the
    /// fit (only the sub-block scales are rounded to the type's 6 or 8 bits), not a new search on W', which measured
    /// worse (docs/gguf.md: CQE+ W3 g16 --sym → Q3_K 9.10 from the codes, 9.47 refitted to W').
    /// </summary>
    /// <summary>
    /// Whether a free-minimum run (--free-min) trained on <paramref name="type"/>'s own sub-block grid: Q4_K/Q5_K (32-weight
    /// sub-blocks, codes 0..15/31, x = d·sc·q − dmin·m) for W≤4/W≤5, Q2_K (16, 0..3) for W2, groups a multiple of the
    /// sub-block in natural column order. Each sub-block then keeps its group's learned scale and minimum (no search), only
    /// rounded to the type's sub-block bits, and W' is quantized against that grid.
    /// </summary>
    internal static bool OnLearnedFreeMinimumGrid(GgmlType type, QuantizedMatrix? codes)
    {
        if (codes is not { Config.FreeMinimum: true } m) return false;
        var (maxBits, subBlock) = type switch
        {
            GgmlType.Q2_K => (2, 16), GgmlType.Q4_K => (4, 32), GgmlType.Q5_K => (5, 32), _ => (0, 1),
        };
        return m.Config.Bits <= maxBits && m.Layout.Length % subBlock == 0 && m.HasNaturalOrder;
    }

    internal static bool OnLearnedGrid(GgmlType type, QuantizedMatrix? codes)
    {
        if (codes is not { Config.Symmetric: true } m) return false;
        int maxBits = type switch { GgmlType.Q3_K => 3, GgmlType.Q6_K => 6, _ => 0 };
        return m.Config.Bits <= maxBits && m.Layout.Length % 16 == 0 && m.HasNaturalOrder;
    }

    /// <summary>auto's type for a quantizer: the block-32 type its g32 codes fit (by the config; a row that is not a
    /// multiple of 32 then falls back like any other).</summary>
    private static GgmlType? AutoType(QuantizerConfig q) =>
        q.GroupSize != Block32Codec.Size ? null
        : q.Symmetric && q.Bits <= 4 ? GgmlType.Q4_0
        : q.Symmetric && q.Bits == 5 ? GgmlType.Q5_0
        : q.Symmetric ? GgmlType.Q8_0
        : q.Bits <= 4 ? GgmlType.Q4_1
        : q.Bits == 5 ? GgmlType.Q5_1
        : null;

    /// <summary>llama-quant.cpp's fallbacks for a row length that does not fit the type's block.</summary>
    private static Choice Fits(GgmlType type, int columns, string tensor)
    {
        if (columns % type.Traits().BlockSize == 0) return new Choice(type, "", null);
        var next = type switch
        {
            GgmlType.Q2_K or GgmlType.Q3_K => GgmlType.IQ4_NL,
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => GgmlType.F16,
        };
        if (columns % next.Traits().BlockSize != 0) next = GgmlType.F16;
        return new Choice(next, "", $"{type} → {next}: {columns} columns are not a multiple of {type.Traits().BlockSize}");
    }

    /// <summary>The block-32 types that hold <paramref name="m"/>'s integers and fp16 scales exactly: groups of 32 in
    /// natural column order; Q4_0/Q5_0 for symmetric codes within ±8/±16 of the zero, Q8_0 within ±128, Q4_1/Q5_1 for
    /// codes below 16/32 (any zero point: m = −z·s; a free minimum: m itself). A free minimum fits only those two.</summary>
    public static IEnumerable<GgmlType> ExactTypes(QuantizedMatrix m)
    {
        var q = m.Config;
        if (q.GroupSize != Block32Codec.Size || m.Columns % Block32Codec.Size != 0) yield break;
        if (!m.HasNaturalOrder) yield break;
        if (q.FreeMinimum)
        {
            if (q.Bits <= 4) yield return GgmlType.Q4_1;
            if (q.Bits <= 5) yield return GgmlType.Q5_1;
            yield break;
        }
        if (q.Symmetric && q.Bits <= 4) yield return GgmlType.Q4_0;
        if (q.Symmetric && q.Bits <= 5) yield return GgmlType.Q5_0;
        if (q.Symmetric && q.Bits <= 8) yield return GgmlType.Q8_0;
        if (q.Bits <= 4) yield return GgmlType.Q4_1;
        if (q.Bits <= 5) yield return GgmlType.Q5_1;
    }

    private sealed record Made(byte[] Bytes, GgufTensorReport Report);

    private static Made MakeLinear(GgufExportSource src, string arch, int layer, BlockLinear linear, Choice choice, string tensor)
    {
        var c = src.Config;
        var (rows, columns) = linear.Shape(c);
        var codes = src.Codes(layer, linear.Part);
        // On a symmetric K-quant's own grid the stored codes are the fit (the learned range lives in their scales).
        var learned = OnLearnedGrid(choice.Type, codes) ? null : src.Learned(layer, linear.Part);
        // A free-minimum run on a K-quant's own sub-block grid: each sub-block keeps its group's learned scale and
        // minimum (only rounded to the type's bits), W' quantized against them (docs/gguf.md: CQE+ W5 g32 --free-min →
        // Q5_K 6.801 this way, 6.867 with the reference search from the learned range, 6.815 refitting the codes instead of W').
        bool keepRange = learned != null && OnLearnedFreeMinimumGrid(choice.Type, codes);
        float[] reference = linear.Weights(src.Block(layer)); // qn's weights (dequantized when quantized)
        int[] rowOf = RowMap(arch, linear.Part, c, rows);      // GGUF row → qn row
        var type = choice.Type;
        long rowBytes = type.RowBytes(columns);
        var bytes = new byte[rowBytes * rows];
        double? maxOffset = null;
        if (type.IsFloat())
        {
            var permuted = new float[reference.Length];
            for (int r = 0; r < rows; r++) Array.Copy(reference, (long)rowOf[r] * columns, permuted, (long)r * columns, columns);
            bytes = FloatBytes(permuted, type);
        }
        else if (choice.How.StartsWith("exact", StringComparison.Ordinal))
        {
            // A streaming export chose the type from the first block's codes; every block must hold it the same way.
            if (!ExactTypes(codes!).Contains(type))
                throw new QuantNativeException($"{tensor}: its codes are not in natural column order (act-order g_idx) as the " +
                                               $"first block's were, so {type} cannot hold them exactly; give --type to requantize");
            double offset = EncodeExact(codes!, type, rowOf, bytes);
            // Q4_0/Q8_0 have no m; a free minimum is stored as it is.
            if (type is GgmlType.Q4_1 or GgmlType.Q5_1 && codes!.Minimums == null) maxOffset = offset;
        }
        else
        {
            float[] fit = learned?.Weights ?? reference;
            var importance = type.IsKQuant() ? Normalized(src.Importance(layer, linear.Part), columns, tensor) : null;
            var (bs, bb) = type.Traits();
            var groups = codes?.Layout ?? new GroupLayout(columns, QuantizerConfig.PerChannelGroupSize);
            for (int r = 0; r < rows; r++)
            {
                int qr = rowOf[r];
                var row = fit.AsSpan(qr * columns, columns);
                for (int b = 0; b < columns / bs; b++)
                {
                    var block = bytes.AsSpan((int)(r * rowBytes + (long)b * bb), bb);
                    if (type.IsKQuant())
                        KQuants.Quantize(type, row.Slice(b * bs, bs), block, b * bs, Range(codes, learned, qr),
                            importance is null ? default : importance.AsSpan(b * bs, bs), keepRange);
                    else
                        Block32Codec.QuantizeReference(type, row.Slice(b * bs, bs), block);
                }
            }
        }
        var (rel, maxAbs) = Distance(bytes, type, rows, columns, reference, rowOf);
        return new Made(bytes, new GgufTensorReport(tensor, rows, columns, type, choice.How, choice.Fallback, rel, maxAbs, maxOffset));
    }

    /// <summary>A linear's column importance (the calibration inputs' Σx² per input column) over its largest value, so
    /// that the largest is 1 and a uniform importance is 1 everywhere (the reference search exactly); null for none or
    /// when no column saw any input.</summary>
    internal static float[]? Normalized(float[]? importance, int columns, string tensor)
    {
        if (importance == null) return null;
        if (importance.Length != columns)
            throw new InvalidOperationException($"{tensor}: importance of {importance.Length} columns for {columns}");
        float max = 0;
        foreach (float v in importance)
        {
            if (!float.IsFinite(v) || v < 0)
                throw new QuantNativeException($"{tensor}: input energy {v}: expected a finite Σx² ≥ 0 per column");
            max = MathF.Max(max, v);
        }
        return max > 0 ? importance.Select(v => v / max).ToArray() : null;
    }

    /// <summary>A sub-block's starting range: its group's learned clipping range (W' runs), or the range the stored
    /// scale and zero span, [−z·s, (qmax − z)·s] (in order when s &lt; 0); null without either.</summary>
    private static KQuants.RangeOf? Range(QuantizedMatrix? codes, LearnedLinear? learned, int qnRow)
    {
        if (codes == null) return null;
        var layout = codes.Layout;
        int groups = layout.Groups, qmax = codes.Config.MaxCode;
        return column =>
        {
            int p = qnRow * groups + codes.GroupIndex[column];
            if (learned != null) return (learned.RangeMin[p], learned.RangeMax[p]);
            float s = codes.Scales[p];
            if (codes.Minimums is { } minimums) return (minimums[p], minimums[p] + qmax * s);
            int z = codes.Zeros[p];
            // A symmetric learned group may have s < 0 (its long side above zero): the range is then [(qmax − z)·s, −z·s].
            float a = -z * s, b = (qmax - z) * s;
            return (MathF.Min(a, b), MathF.Max(a, b));
        };
    }

    /// <summary>Blocks of <paramref name="type"/> from the codes as they are (rows in GGUF order); the largest
    /// |m − (−z·s)|/s for Q4_1/Q5_1 (0 for a free minimum, whose m is stored as it is).</summary>
    internal static double EncodeExact(QuantizedMatrix m, GgmlType type, int[] rowOf, byte[] bytes)
    {
        int columns = m.Columns, groups = m.Groups, bb = type.Traits().BlockBytes;
        int half = 1 << (m.Config.Bits - 1);
        Span<byte> q = stackalloc byte[Block32Codec.Size];
        double maxOffset = 0;
        for (int r = 0; r < m.Rows; r++)
        {
            int qr = rowOf[r];
            for (int g = 0; g < groups; g++)
            {
                float s = m.Scales[qr * groups + g];
                int z = m.Zeros[qr * groups + g];
                for (int j = 0; j < Block32Codec.Size; j++)
                {
                    int code = m.Codes[qr * columns + g * Block32Codec.Size + j];
                    q[j] = type switch
                    {
                        GgmlType.Q4_0 => (byte)(code - z + 8),
                        GgmlType.Q5_0 => (byte)(code - z + 16),
                        GgmlType.Q8_0 => (byte)(code - z + 128),
                        _ => (byte)code,
                    };
                }
                // GPTQ's symmetric zero is 2^(bits−1); Q4_0/Q5_0/Q8_0 have no zero of their own, so it must be that.
                if (type is GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 && z != half)
                    throw new InvalidOperationException($"symmetric zero {z} at row {qr} group {g}, expected {half}");
                float mOffset = m.Minimums is { } minimums ? minimums[qr * groups + g] : Fp16.Round(-z * s);
                if (type is GgmlType.Q4_1 or GgmlType.Q5_1 && m.Minimums == null)
                    maxOffset = Math.Max(maxOffset, Math.Abs(mOffset - (-(double)z * s)) / s);
                Block32Codec.EncodeCodes(type, q, s, mOffset, bytes.AsSpan((r * groups + g) * bb, bb));
            }
        }
        return maxOffset;
    }

    /// <summary>‖dequant(bytes) − reference‖/‖reference‖ and max |Δ|, in qn's row order.</summary>
    private static (double Relative, double MaxAbs) Distance(byte[] bytes, GgmlType type, int rows, int columns, float[] reference, int[] rowOf)
    {
        var (bs, bb) = type.Traits();
        long rowBytes = type.RowBytes(columns);
        var y = new float[columns];
        double num = 0, den = 0, maxAbs = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = bytes.AsSpan((int)(r * rowBytes), (int)rowBytes);
            if (type.IsFloat()) FloatConversion.Decode(row, ToDType(type), y);
            else
                for (int b = 0; b < columns / bs; b++)
                {
                    if (type.IsKQuant()) KQuants.Dequantize(type, row.Slice(b * bb, bb), y.AsSpan(b * bs, bs));
                    else Block32Codec.Decode(type, row.Slice(b * bb, bb), y.AsSpan(b * bs, bs));
                }
            long at = (long)rowOf[r] * columns;
            for (int j = 0; j < columns; j++)
            {
                double d = y[j] - reference[at + j];
                num += d * d;
                den += (double)reference[at + j] * reference[at + j];
                maxAbs = Math.Max(maxAbs, Math.Abs(d));
            }
        }
        return (den > 0 ? Math.Sqrt(num / den) : Math.Sqrt(num), maxAbs);
    }

    /// <summary>For each GGUF row the qn row it holds: the identity, or the adjacent-pair permutation of q/k.</summary>
    public static int[] RowMap(string arch, string part, LlamaConfig c, int rows)
    {
        var index = Enumerable.Range(0, rows).Select(i => (float)i).ToArray();
        return GgufArchitecture.ToGgufRows(arch, part, index, c, 1).Select(v => (int)v).ToArray();
    }

    public static FloatDType ToDType(GgmlType t) => t switch
    {
        GgmlType.F32 => FloatDType.F32, GgmlType.F16 => FloatDType.F16, GgmlType.BF16 => FloatDType.BF16,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };

    public static byte[] FloatBytes(float[] values, GgmlType type)
    {
        var d = ToDType(type);
        var bytes = new byte[(long)values.Length * d.ByteSize()];
        FloatConversion.Encode(values, d, bytes);
        return bytes;
    }

    /// <summary>general.file_type: llama_ftype of the dominant linear type (display only for llama.cpp).</summary>
    private static uint FileType(List<GgmlType> linears, GgmlType matrix)
    {
        var t = linears.GroupBy(x => x).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault(matrix);
        return t switch
        {
            GgmlType.F32 => 0u, GgmlType.F16 => 1u, GgmlType.Q4_0 => 2u, GgmlType.Q4_1 => 3u, GgmlType.Q8_0 => 7u,
            GgmlType.Q5_0 => 8u, GgmlType.Q5_1 => 9u, GgmlType.Q2_K => 10u, GgmlType.Q3_K => 12u, GgmlType.Q4_K => 15u,
            GgmlType.Q5_K => 17u, GgmlType.Q6_K => 18u, GgmlType.IQ4_NL => 25u, GgmlType.BF16 => 32u, _ => 0u,
        };
    }
}
