namespace QuantNative.Tests.Inference;

/// <summary>The float64 ground truth shipped with stories260K: 256 tokens and their logits.</summary>
public static class ReferenceLogits
{
    public const int Positions = 256, Vocab = 512;

    public static int[] Tokens() =>
        File.ReadAllText(Path.Combine(TestPaths.ReferenceDir, "tokens.txt"))
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(int.Parse).ToArray();

    public static float[] Logits()
    {
        var bytes = File.ReadAllBytes(Path.Combine(TestPaths.ReferenceDir, "logits_256x512_f32le.bin"));
        var logits = new float[Positions * Vocab];
        Buffer.BlockCopy(bytes, 0, logits, 0, bytes.Length);
        return logits;
    }

    /// <summary>mean_nll from reference/summary.txt.</summary>
    public static double MeanNll()
    {
        var text = File.ReadAllText(Path.Combine(TestPaths.ReferenceDir, "summary.txt"));
        var field = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Single(f => f.StartsWith("mean_nll="));
        return double.Parse(field["mean_nll=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
