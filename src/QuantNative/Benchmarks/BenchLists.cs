namespace QuantNative.Benchmarks;

/// <summary>A weight shape to benchmark: W [N = out, K = in] (the N×K convention), optionally with a fixed batch M.</summary>
public sealed record WeightShape(int N, int K, int? M = null)
{
    public override string ToString() => M is int m ? $"{m}x{N}x{K}" : $"{N}x{K}";
}

/// <summary>
/// The comma-separated lists of `qn bench gemm|svd` (--shapes, --bits, --batch), parsed with errors that name the option
/// and the offending item.
/// </summary>
public static class BenchLists
{
    /// <summary>LLaMA-7B's linear layers as W [N, K]: q/k/v/o [4096, 4096], gate/up [11008, 4096], down [4096, 11008].</summary>
    public static readonly WeightShape[] Llama7b = [new(4096, 4096), new(11008, 4096), new(4096, 11008)];

    /// <summary>
    /// "llama7b" or items "NxK" (weight [out, in]) or "MxNxK" (the same with a fixed batch M), comma-separated;
    /// <paramref name="allowM"/> false refuses the three-part form.
    /// </summary>
    public static List<WeightShape> Shapes(string text, string option, bool allowM)
    {
        var shapes = new List<WeightShape>();
        foreach (string raw in Items(text, option))
        {
            if (raw.Equals("llama7b", StringComparison.OrdinalIgnoreCase))
            {
                shapes.AddRange(Llama7b);
                continue;
            }
            var parts = raw.Split('x', 'X', '×');
            string expected = allowM ? "llama7b, NxK or MxNxK" : "llama7b or RxC";
            if (parts.Length is < 2 or > 3 || (parts.Length == 3 && !allowM))
                throw new QuantNativeException($"{option}: '{raw}' is not a shape (expected {expected}, e.g. 4096x11008)");
            var dims = parts.Select(p => int.TryParse(p, out int v) && v >= 1 ? v : -1).ToArray();
            if (dims.Any(d => d < 1))
                throw new QuantNativeException($"{option}: '{raw}' has a dimension that is not a positive integer (expected {expected})");
            shapes.Add(dims.Length == 3 ? new WeightShape(dims[1], dims[2], dims[0]) : new WeightShape(dims[0], dims[1]));
        }
        return shapes;
    }

    /// <summary>Comma-separated integers, each in [min, max].</summary>
    public static int[] Integers(string text, string option, int min, int max)
    {
        return Items(text, option).Select(raw =>
            int.TryParse(raw, out int v) && v >= min && v <= max
                ? v
                : throw new QuantNativeException(min == int.MinValue
                    ? $"{option}: '{raw}' is not an integer"
                    : $"{option}: '{raw}' is not an integer in {min}..{max}")).ToArray();
    }

    private static string[] Items(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (items.Length == 0) throw new QuantNativeException($"{option}: empty list");
        return items;
    }

    /// <summary>The shape divided by <paramref name="factor"/> (at least 32 each way, rounded up to a multiple of 8
    /// so the GEMV's K % 8 rule still holds).</summary>
    public static WeightShape ScaledDown(WeightShape s, int factor) =>
        new(Round8(Math.Max(32, s.N / factor)), Round8(Math.Max(32, s.K / factor)), s.M);

    private static int Round8(int v) => (v + 7) / 8 * 8;
}
