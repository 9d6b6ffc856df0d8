namespace QuantNative.Evaluation;

/// <summary>The outcome of the perplexity protocol (DESIGN.md §6).</summary>
public sealed record PerplexityResult(
    double Ppl,              // exp(Nll)
    double Nll,              // mean negative log-likelihood per predicted token, nats
    long Tokens,             // tokens run through the model (windows × ctx)
    long TextTokens,         // tokens of the whole text (BOS included)
    int Windows,             // windows evaluated
    int AvailableWindows,    // floor(TextTokens / ctx)
    long Predicted,          // next-token predictions scored (windows × (ctx − 1))
    int Ctx,
    double Seconds,
    double TokensPerSecond);
