using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Quantization.Pipeline;

/// <summary>
/// The memory a per-layer quantization run (RTN, GPTQ) will reach, from the config and the calibration size alone,
/// so `qn quantize` can print it before any work and refuse a run that cannot fit. The buffers are those of
/// <see cref="BlockPipeline"/> with a <see cref="Sequential.SequentialLearner"/>: the fp32 embedding (held for the whole
/// run), one block's fp32 weights and the originals each linear keeps for its error (garbage until the collection at
/// the end of the block),
/// the largest linear's transient copies (the original for the error, the transposed and dequantized copies GPTQ
/// makes, its codes), the block's finished codes and scales, and for GPTQ the calibration activations X_q, the
/// workers' forward scratch and three float64 [in, in] matrices of the widest layer input (the accumulated sum, the
/// copy GPTQ dampens and factors in place, and the previous layer's copy until it is collected; four with act-order's
/// permuted copy). At the end the fp32 lm_head joins the embedding.
/// The mapped checkpoint's pages are dropped as each tensor is copied out, so they are not counted.
/// </summary>
public sealed record QuantizationMemory(IReadOnlyList<(string What, long Bytes)> Items, long Peak, bool Calibrated)
{
    /// <summary>The runtime and what the collector keeps beyond the live arrays: `qn info` peaks at 39 MB, and the
    /// highest of several TinyLlama-shape RTN runs (1.05–1.18 GB) lay 354 MiB above the arrays counted here
    /// (docs/BENCHMARKS.md).</summary>
    public const long RuntimeBytes = 384L << 20;

    public static QuantizationMemory Estimate(LlamaConfig c, QuantizerConfig q, int windows, int length, bool gptq, bool actOrder)
    {
        long embedding = (long)c.VocabSize * c.HiddenSize * sizeof(float);
        long blockWeights = 0, largest = 0, codes = 0;
        int widestInput = 0;
        foreach (var linear in BlockLinears.All)
        {
            var (rows, columns) = linear.Shape(c);
            long n = (long)rows * columns;
            blockWeights += n;
            largest = Math.Max(largest, n);
            codes += n + (long)rows * q.Layout(columns).Groups * (sizeof(float) + sizeof(int));
            widestInput = Math.Max(widestInput, columns);
        }
        var during = new List<(string, long)>
        {
            ("token embedding (fp32)", embedding),
            ("one block's weights and originals (fp32)", 2 * blockWeights * sizeof(float)),
            ("the block's codes and scales", codes),
            ("the largest linear's working copies", largest * (3 * sizeof(float) + 1)),
        };
        if (gptq)
        {
            long activations = (long)windows * length * c.HiddenSize * sizeof(float);
            int workers = Cpu.SequenceParallelism.Workers(c, windows);
            long perWorker = (long)length * (2 * c.HiddenSize + 2 * c.QDim + 4 * c.KvDim + 2 * c.IntermediateSize
                                             + Math.Max(Math.Max(c.HiddenSize, c.QDim), c.IntermediateSize)) * sizeof(float);
            long hessians = (actOrder ? 4 : 3) * (long)widestInput * widestInput * sizeof(double)
                            + (long)length * widestInput * sizeof(double); // the accumulator's batch in float64
            during.Add(($"calibration activations ({windows} × {length} tokens)", activations));
            during.Add(($"forward scratch ({workers} worker{(workers == 1 ? "" : "s")})", workers * perWorker));
            during.Add(($"GPTQ Hessians (float64 [{widestInput}, {widestInput}] ×{(actOrder ? 4 : 3)})", hessians));
        }
        long end = embedding + (c.TieWordEmbeddings ? 0 : embedding);
        long blocks = during.Sum(i => i.Item2);
        var items = new List<(string, long)> { ("runtime", RuntimeBytes) };
        items.AddRange(during);
        if (end > blocks) items.Add(("at the end: embedding and lm_head (fp32)", end));
        return new QuantizationMemory(items, RuntimeBytes + Math.Max(blocks, end), gptq);
    }

    /// <summary>One line: the peak and what makes it up, largest first.</summary>
    public string Describe() =>
        $"about {Gib(Peak)} peak: " + string.Join(", ", Items.OrderByDescending(i => i.Bytes).Select(i => $"{i.What} {Gib(i.Bytes)}"));

    /// <summary>Refuses the run when its peak exceeds <paramref name="available"/> bytes, with the figure.</summary>
    public void EnsureFits(long available, string source)
    {
        if (Peak > available)
            throw new QuantNativeException($"the run would need {Describe()}; {source} allows {Gib(available)}. " +
                                           (Calibrated ? "Use fewer or shorter calibration windows (--nsamples, --seqlen), or a machine with more memory"
                                                       : "It holds one block at a time already: use a machine with more memory"));
    }

    public static string Gib(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F0} MiB";
}
