namespace QuantNative.Inference;

/// <summary>
/// Picks the next token: greedy (first arg-max) at temperature 0, otherwise a draw from softmax(logits / T),
/// optionally restricted to the smallest set of tokens whose probability reaches top-p. Seeded: the same seed
/// gives the same tokens on every machine (System.Random with a seed is a fixed algorithm).
/// </summary>
public sealed class Sampler
{
    private readonly float _temperature, _topP;
    private readonly Random _random;

    public Sampler(float temperature, float topP, int seed)
    {
        if (!(temperature >= 0) || float.IsInfinity(temperature))
            throw new QuantNativeException($"--temperature must be ≥ 0 (got {temperature})");
        if (!(topP > 0 && topP <= 1))
            throw new QuantNativeException($"--top-p must be in (0, 1] (got {topP})");
        _temperature = temperature;
        _topP = topP;
        _random = new Random(seed);
    }

    /// <summary>Temperature 0: the next token is the logits' first arg-max (a device computes it there).</summary>
    public bool IsGreedy => _temperature == 0;

    public int Next(ReadOnlySpan<float> logits)
    {
        if (_temperature == 0) return ArgMax(logits);
        float max = logits[ArgMax(logits)];
        var probs = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += probs[i] = Math.Exp((logits[i] - max) / (double)_temperature);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        int keep = logits.Length;
        if (_topP < 1)
        {
            Array.Sort(order, (a, b) => probs[b].CompareTo(probs[a]) is var c && c != 0 ? c : a.CompareTo(b));
            double mass = 0;
            for (keep = 0; keep < order.Length && mass < _topP * sum; keep++) mass += probs[order[keep]];
            sum = mass;
        }
        double u = _random.NextDouble() * sum, acc = 0;
        for (int i = 0; i < keep; i++)
        {
            acc += probs[order[i]];
            if (u < acc) return order[i];
        }
        return order[keep - 1];
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
