namespace QuantNative.Quantization;

/// <summary>
/// The calibration set of GPTQ and its successors: n windows of L consecutive tokens cut at seeded random offsets of
/// one tokenized calibration text. The offsets come from System.Random(seed), whose seeded algorithm is fixed by
/// .NET (the seeded constructor keeps the legacy subtractive generator for compatibility, on every platform and
/// runtime version), so the same text, n, L and seed give the same windows on every machine.
/// </summary>
public static class CalibrationSampler
{
    public const int DefaultSamples = 128;
    public const int DefaultSequenceLength = 2048;

    /// <summary>Windows [n][L]. L is capped at <paramref name="maxContext"/>, the model's context.</summary>
    /// <param name="source">Names the text in errors (the file and option).</param>
    public static int[][] Sample(int[] tokens, int samples, int sequenceLength, int seed, int maxContext,
        string source = "calibration text")
    {
        if (samples <= 0)
            throw new QuantNativeException($"--nsamples {samples}: expected a positive number of calibration windows");
        if (sequenceLength < 2)
            throw new QuantNativeException($"--seqlen {sequenceLength}: expected at least 2 tokens per calibration window");
        int length = EffectiveLength(sequenceLength, maxContext);
        if (tokens.Length < length)
            throw new QuantNativeException(
                $"{source} has {tokens.Length} tokens, shorter than one calibration window of --seqlen {length} tokens");
        var random = new Random(seed);
        var windows = new int[samples][];
        for (int i = 0; i < samples; i++)
        {
            // Every offset whose window fits, each equally likely (upper bound exclusive).
            int offset = random.Next(0, tokens.Length - length + 1);
            windows[i] = tokens.AsSpan(offset, length).ToArray();
        }
        return windows;
    }

    /// <summary>
    /// A warning when the windows draw more tokens than the text holds (e.g. --nsamples 100000 on a short text): the
    /// windows then overlap heavily, costing time and memory without adding calibration data. Not refused: sampling
    /// with replacement is the papers' protocol, and a setting taken from one stays a valid, reproducible run.
    /// </summary>
    public static string? OverlapWarning(int textTokens, int samples, int length)
    {
        long drawn = (long)samples * length;
        if (drawn <= textTokens) return null;
        return $"--nsamples {samples} × {length} tokens draws {drawn:N0} tokens from a text of {textTokens:N0}: the " +
               $"windows overlap (each token is in {(double)drawn / textTokens:F1} windows on average), which costs time " +
               "and memory without adding calibration data; give a longer text or fewer --nsamples";
    }

    /// <summary>L as used: the requested length capped at the model's context.</summary>
    public static int EffectiveLength(int sequenceLength, int maxContext) => Math.Min(sequenceLength, maxContext);
}
