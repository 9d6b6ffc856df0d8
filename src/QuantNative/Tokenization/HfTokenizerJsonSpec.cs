using System.Text.Json;

namespace QuantNative.Tokenization;

/// <summary>
/// The parts of a Hugging Face tokenizer.json that a LLaMA-style (SentencePiece-converted) BPE tokenizer uses,
/// read and checked. Anything that would change the encoding but is not understood here — another model type,
/// a byte-level or regex pre-tokenizer, Unicode normalization, dropout, subword prefixes — is refused with a
/// message naming the file, rather than silently encoding differently from Hugging Face.
/// </summary>
internal sealed record HfTokenizerJsonSpec(
    Dictionary<string, int> Vocab,
    List<(int Left, int Right, int Merged)> Merges,
    bool ByteFallback,
    string? UnknownToken,
    bool FuseUnknown,
    bool IgnoreMerges,
    List<HfTokenizerJsonSpec.Step> Normalizers,
    HfTokenizerJsonSpec.MetaspaceSpec? Metaspace,
    List<(int Id, string Content, bool Special)> AddedTokens,
    string? TemplateBos)
{
    /// <summary>A normalizer step: prepend <paramref name="Text"/> to non-empty text, or replace Pattern by Text.</summary>
    public sealed record Step(bool IsPrepend, string Pattern, string Text);

    /// <summary>The Metaspace pre-tokenizer: spaces → Replacement, an optional prefix, optional split before each.</summary>
    public sealed record MetaspaceSpec(char Replacement, bool Prepend, bool Split);

    public static HfTokenizerJsonSpec Parse(JsonElement root, string path)
    {
        string bad = $"{path}: not a supported tokenizer.json";
        if (root.ValueKind != JsonValueKind.Object)
            throw new QuantNativeException($"{bad}: the top level is not a JSON object");
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new QuantNativeException($"{bad}: no \"model\" object");
        string type = OptionalString(model, "type", bad) ?? (model.TryGetProperty("merges", out _) ? "BPE" : "(none)");
        if (type != "BPE")
            throw new QuantNativeException(
                $"{bad}: model type \"{type}\" is not supported (only BPE, as LLaMA's SentencePiece-converted tokenizers use)");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() != 0)
            throw new QuantNativeException($"{bad}: BPE dropout {dropout.GetDouble()} makes encoding random");
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (!string.IsNullOrEmpty(OptionalString(model, affix, bad)))
                throw new QuantNativeException($"{bad}: model.{affix} is not supported");

        if (!model.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
            throw new QuantNativeException($"{bad}: model.vocab is missing or not an object");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocabJson.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new QuantNativeException($"{bad}: model.vocab[\"{entry.Name}\"] is not a non-negative integer id");
            vocab[entry.Name] = id;
        }
        if (vocab.Count == 0)
            throw new QuantNativeException($"{bad}: model.vocab is empty");

        var merges = ParseMerges(model, vocab, bad);
        bool byteFallback = OptionalBool(model, "byte_fallback", false, bad);
        string? unknown = OptionalString(model, "unk_token", bad);
        if (unknown != null && !vocab.ContainsKey(unknown))
            throw new QuantNativeException($"{bad}: model.unk_token \"{unknown}\" is not in the vocabulary");
        var normalizers = new List<Step>();
        if (root.TryGetProperty("normalizer", out var normalizer))
            ParseNormalizer(normalizer, normalizers, bad);
        MetaspaceSpec? metaspace = null;
        if (root.TryGetProperty("pre_tokenizer", out var pre))
            metaspace = ParsePreTokenizer(pre, bad);
        return new HfTokenizerJsonSpec(vocab, merges, byteFallback, unknown,
            OptionalBool(model, "fuse_unk", false, bad), OptionalBool(model, "ignore_merges", false, bad),
            normalizers, metaspace, ParseAddedTokens(root, bad), ParseTemplateBos(root));
    }

    private static List<(int, int, int)> ParseMerges(JsonElement model, Dictionary<string, int> vocab, string bad)
    {
        if (!model.TryGetProperty("merges", out var json) || json.ValueKind != JsonValueKind.Array)
            throw new QuantNativeException($"{bad}: model.merges is missing or not an array");
        var merges = new List<(int, int, int)>(json.GetArrayLength());
        int rank = 0;
        foreach (var m in json.EnumerateArray())
        {
            // Two spellings: "left right" (older files) or ["left", "right"] (tokenizers ≥ 0.20).
            string? left = null, right = null;
            if (m.ValueKind == JsonValueKind.String)
            {
                string[] parts = m.GetString()!.Split(' ');
                if (parts.Length == 2) (left, right) = (parts[0], parts[1]);
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                     && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                (left, right) = (m[0].GetString(), m[1].GetString());
            if (left == null || right == null)
                throw new QuantNativeException($"{bad}: model.merges[{rank}] is not a pair of pieces");
            if (!vocab.TryGetValue(left, out int l) || !vocab.TryGetValue(right, out int r))
                throw new QuantNativeException(
                    $"{bad}: model.merges[{rank}] (\"{left}\" \"{right}\") names a piece that is not in the vocabulary");
            if (!vocab.TryGetValue(left + right, out int merged))
                throw new QuantNativeException(
                    $"{bad}: model.merges[{rank}] makes \"{left + right}\", which is not in the vocabulary");
            merges.Add((l, r, merged));
            rank++;
        }
        return merges;
    }

    private static void ParseNormalizer(JsonElement n, List<Step> steps, string bad)
    {
        if (n.ValueKind == JsonValueKind.Null) return;
        string type = TypeOf(n, "normalizer", bad);
        switch (type)
        {
            case "Sequence":
                if (!n.TryGetProperty("normalizers", out var list) || list.ValueKind != JsonValueKind.Array)
                    throw new QuantNativeException($"{bad}: a Sequence normalizer has no \"normalizers\" array");
                foreach (var child in list.EnumerateArray())
                    ParseNormalizer(child, steps, bad);
                break;
            case "Prepend":
                steps.Add(new Step(true, "", RequiredString(n, "prepend", bad)));
                break;
            case "Replace":
                steps.Add(new Step(false, StringPattern(n, bad), RequiredString(n, "content", bad)));
                break;
            default:
                throw new QuantNativeException(
                    $"{bad}: normalizer \"{type}\" is not supported (LLaMA's tokenizer.json uses Prepend and Replace)");
        }
    }

    private static MetaspaceSpec? ParsePreTokenizer(JsonElement p, string bad)
    {
        if (p.ValueKind == JsonValueKind.Null) return null;
        string type = TypeOf(p, "pre_tokenizer", bad);
        if (type == "Sequence" && p.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array
            && list.GetArrayLength() == 1)
            return ParsePreTokenizer(list[0], bad);
        if (type != "Metaspace")
            throw new QuantNativeException(
                $"{bad}: pre_tokenizer \"{type}\" is not supported (only Metaspace, as SentencePiece-style LLaMA " +
                "tokenizers use; byte-level BPE such as Llama 3's is not supported)");
        string replacement = OptionalString(p, "replacement", bad) ?? "\u2581";
        if (replacement.Length != 1)
            throw new QuantNativeException($"{bad}: Metaspace replacement \"{replacement}\" is not one character");
        // Newer files say prepend_scheme; older ones add_prefix_space (true meaning "always").
        string scheme = OptionalString(p, "prepend_scheme", bad)
                        ?? (OptionalBool(p, "add_prefix_space", true, bad) ? "always" : "never");
        if (scheme is not ("always" or "first" or "never"))
            throw new QuantNativeException($"{bad}: Metaspace prepend_scheme \"{scheme}\" is not always/first/never");
        // With no earlier pre-tokenizer the text is one piece, so "always" and "first" both prepend once.
        return new MetaspaceSpec(replacement[0], scheme != "never", OptionalBool(p, "split", true, bad));
    }

    private static List<(int, string, bool)> ParseAddedTokens(JsonElement root, string bad)
    {
        var added = new List<(int, string, bool)>();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null) return added;
        if (list.ValueKind != JsonValueKind.Array)
            throw new QuantNativeException($"{bad}: added_tokens is not an array");
        foreach (var t in list.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("id", out var id) || !id.TryGetInt32(out int i) || i < 0)
                throw new QuantNativeException($"{bad}: an entry of added_tokens has no non-negative integer \"id\"");
            added.Add((i, RequiredString(t, "content", bad), OptionalBool(t, "special", false, bad)));
        }
        return added;
    }

    /// <summary>The special token the post-processor puts before a single sequence (LLaMA: &lt;s&gt;), if any.</summary>
    private static string? ParseTemplateBos(JsonElement root)
    {
        if (!root.TryGetProperty("post_processor", out var p) || p.ValueKind != JsonValueKind.Object
            || !p.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array
            || single.GetArrayLength() == 0)
            return null;
        var first = single[0];
        return first.ValueKind == JsonValueKind.Object && first.TryGetProperty("SpecialToken", out var s)
               && s.ValueKind == JsonValueKind.Object && s.TryGetProperty("id", out var id)
               && id.ValueKind == JsonValueKind.String
            ? id.GetString()
            : null;
    }

    private static string StringPattern(JsonElement n, string bad)
    {
        if (n.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.Object
            && pattern.TryGetProperty("String", out var s) && s.ValueKind == JsonValueKind.String && s.GetString()!.Length > 0)
            return s.GetString()!;
        throw new QuantNativeException(
            $"{bad}: a Replace normalizer's pattern is not a non-empty {{\"String\": ...}} (regex patterns are not supported)");
    }

    private static string TypeOf(JsonElement e, string what, string bad) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()!
            : throw new QuantNativeException($"{bad}: {what} has no \"type\"");

    private static string RequiredString(JsonElement e, string name, string bad) =>
        OptionalString(e, name, bad) ?? throw new QuantNativeException($"{bad}: field \"{name}\" is missing");

    private static string? OptionalString(JsonElement e, string name, string bad)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : throw new QuantNativeException($"{bad}: field \"{name}\" is not a string");
    }

    private static bool OptionalBool(JsonElement e, string name, bool fallback, string bad)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : throw new QuantNativeException($"{bad}: field \"{name}\" is not true or false");
    }
}
