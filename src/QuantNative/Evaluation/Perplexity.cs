using System.Diagnostics;
using QuantNative.Cpu;
using QuantNative.Inference;
using QuantNative.Model;

namespace QuantNative.Evaluation;

/// <summary>
/// The perplexity protocol of the quantization papers (DESIGN.md §6): the whole text tokenized once with BOS at the
/// start only, cut into floor(N/ctx) non-overlapping windows, each run from an empty cache, and
/// PPL = exp(mean NLL of the ctx−1 next-token predictions of every window).
/// </summary>
public static class Perplexity
{
    /// <summary>Number of windows and a check that at least one fits; messages name the option to change.</summary>
    public static int CountWindows(int textTokens, int ctx, int maxPositions)
    {
        if (ctx < 2)
            throw new QuantNativeException($"--ctx {ctx} is too small: a window needs at least 2 tokens");
        if (ctx > maxPositions)
            throw new QuantNativeException($"--ctx {ctx} is larger than the model's context of {maxPositions} tokens");
        int windows = textTokens / ctx;
        if (windows == 0)
            throw new QuantNativeException(
                $"the text has {textTokens} tokens, shorter than one window of --ctx {ctx} tokens");
        return windows;
    }

    /// <param name="progress">called after each window with (windows done, windows total)</param>
    public static PerplexityResult Evaluate(LlamaModel model, int[] tokens, int ctx, int? maxWindows = null,
        Action<int, int>? progress = null, CancellationToken cancel = default)
        => Evaluate(InferenceModel.From(model), tokens, ctx, maxWindows, progress, cancel);

    /// <param name="engine">runs the windows (a device: <see cref="Inference.Device.DeviceDecodeEngine"/>, one window
    /// at a time, since a device runtime has one stream); null: the CPU engine, windows in parallel</param>
    public static PerplexityResult Evaluate(InferenceModel model, int[] tokens, int ctx, int? maxWindows = null,
        Action<int, int>? progress = null, CancellationToken cancel = default, IDecodeEngine? engine = null)
    {
        int available = CountWindows(tokens.Length, ctx, model.Config.MaxPositionEmbeddings);
        if (maxWindows is <= 0)
            throw new QuantNativeException($"--max-windows must be positive (got {maxWindows})");
        int windows = Math.Min(available, maxWindows ?? available);
        var clock = Stopwatch.StartNew();
        var windowNll = new double[windows];
        int workers = engine != null ? 1 : SequenceParallelism.Workers(model.Config, windows);
        int done = 0;
        using (workers > 1 ? Gemm.UseBlasThreads(1) : null)
        {
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker =>
            {
                using IDecodeSession session = engine?.Open(ctx) ?? new InferenceSession(model, ctx);
                for (int w = worker; w < windows; w += workers)
                {
                    cancel.ThrowIfCancellationRequested();
                    var window = tokens.AsSpan(w * ctx, ctx);
                    session.Reset();
                    var logits = session.Forward(window);
                    windowNll[w] = SumNextTokenNll(logits, window, model.Config.VocabSize);
                    int finished = Interlocked.Increment(ref done);
                    if (progress != null) lock (windowNll) progress(finished, windows);
                }
            });
        }
        double nllSum = 0;
        foreach (double v in windowNll) nllSum += v; // in window order: the same result with any worker count
        double seconds = clock.Elapsed.TotalSeconds;
        long predicted = (long)windows * (ctx - 1);
        double nll = nllSum / predicted;
        long evaluated = (long)windows * ctx;
        return new PerplexityResult(Math.Exp(nll), nll, evaluated, tokens.Length, windows, available, predicted, ctx,
            seconds, evaluated / Math.Max(seconds, 1e-9));
    }

    /// <summary>Σ over positions i &lt; T−1 of −log softmax(logits[i])[tokens[i+1]], in double.</summary>
    public static double SumNextTokenNll(float[] logits, ReadOnlySpan<int> tokens, int vocab)
    {
        double sum = 0;
        for (int i = 0; i + 1 < tokens.Length; i++)
            sum += LogSoftmax.NegativeLogLikelihood(logits.AsSpan(i * vocab, vocab), tokens[i + 1]);
        return sum;
    }
}
