using System.Globalization;

namespace QuantNative.Tests.Tokenization;

/// <summary>The shared test texts and the independent reference encoding of stories260K's tokenizer.</summary>
internal static class ReferenceData
{
    /// <summary>The first 256 ids of [BOS] + encode(TinyStories text), from reference/tokens.txt.</summary>
    public static int[] TinyStoriesFirstTokens()
    {
        string text = File.ReadAllText(Path.Combine(TestPaths.ReferenceDir, "tokens.txt"));
        return text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }

    public static string TinyStories() => File.ReadAllText(TestPaths.TinyStories);

    /// <summary>The first 200 KB of WikiText-2 test (cut on a character boundary).</summary>
    public static string WikiHead() => File.ReadAllText(TestPaths.WikiText)[..200_000];
}
