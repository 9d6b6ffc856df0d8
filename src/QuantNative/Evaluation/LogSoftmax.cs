namespace QuantNative.Evaluation;

/// <summary>Log-probabilities from logits, accumulated in double so a 32000-way softmax loses nothing.</summary>
public static class LogSoftmax
{
    /// <summary>−log softmax(logits)[target] = logsumexp(logits) − logits[target].</summary>
    public static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) if (v > max) max = v;
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - (double)max);
        return Math.Log(sum) + max - logits[target];
    }
}
