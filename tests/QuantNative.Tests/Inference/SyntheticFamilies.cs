using System.Text.Json;

namespace QuantNative.Tests.Inference;

/// <summary>
/// The synthetic checkpoints of ../shared/models/synthetic (one per family: llama3, mistral, qwen2, qwen3) and their
/// float64 references, computed by an independent implementation of Transformers' forward pass (README there).
/// </summary>
public static class SyntheticFamilies
{
    public static readonly string[] All = ["llama3", "mistral", "qwen2", "qwen3"];

    public const int WindowTokens = 64, Windows = 8, LogitRows = 8, GreedyFrom = 8, GreedyTokens = 24;

    /// <summary>The bytes of the text the reference tokenized: the first 20,000 of the TinyStories slice.</summary>
    public const int TextBytes = 20_000;

    public static string Dir(string family) => Path.Combine(TestPaths.Shared, "models", "synthetic", family);

    private static string Reference(string family, string file) => Path.Combine(Dir(family), "reference", file);

    /// <summary>The first 512 ids of the text as Hugging Face's tokenizers encode it (BOS where the template adds one).</summary>
    public static int[] Tokens(string family) =>
        File.ReadAllLines(Reference(family, "tokens_512.txt")).Where(l => l.Length > 0).Select(int.Parse).ToArray();

    /// <summary>Logits [8, vocab] of the first 8 tokens as one sequence.</summary>
    public static float[] Logits(string family)
    {
        var bytes = File.ReadAllBytes(Reference(family, "logits_8xV_f32le.bin"));
        var logits = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, logits, 0, bytes.Length);
        return logits;
    }

    /// <summary>Mean NLL of the 8 windows of 64 tokens, every token after a window's first scored.</summary>
    public static double MeanNll(string family)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Reference(family, "nll_ctx64_8w.json")));
        return doc.RootElement.GetProperty("nll").GetDouble();
    }

    /// <summary>The 24 argmax ids after the first 8 tokens (no stop at EOS, ties to the lowest id).</summary>
    public static int[] Greedy(string family)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Reference(family, "greedy_24_from_8.json")));
        return doc.RootElement.EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    /// <summary>The reference's text as a file of its own (the first <see cref="TextBytes"/> bytes).</summary>
    public static string WriteText(string directory)
    {
        string path = Path.Combine(directory, "synthetic-text.txt");
        File.WriteAllBytes(path, File.ReadAllBytes(TestPaths.TinyStories)[..TextBytes]);
        return path;
    }

    /// <summary>max |a − b| / max |b|: one relative figure for a whole logits tensor.</summary>
    public static double RelativeMaxError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        double worst = 0, scale = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(actual[i] - (double)expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return double.IsNaN(worst) ? double.PositiveInfinity : worst / scale;
    }
}
