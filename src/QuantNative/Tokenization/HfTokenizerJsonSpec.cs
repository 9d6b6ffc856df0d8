using System.Text.Json;

namespace QuantNative.Tokenization;

/// <summary>
/// The parts of a Hugging Face tokenizer.json that LLaMA-family BPE tokenizers use, read and checked: SentencePiece
/// style (byte fallback, "▁" for spaces: LLaMA 2, Mistral) and byte-level (GPT-2's byte alphabet after regex Split
/// pre-tokenizers: Llama 3, Qwen). Anything that would change the encoding but is not understood here — another
/// model type, dropout, subword prefixes, another normalizer, pre-tokenizer, post-processor or decoder, added tokens
/// that strip or match single words — is refused with a message naming the file, rather than silently encoding
/// differently from Hugging Face.
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
    /// <summary>A normalizer step: prepend <paramref name="Text"/> to non-empty text, or replace Pattern by Text,
    /// or (<paramref name="IsNfc"/>) Unicode NFC.</summary>
    public sealed record Step(bool IsPrepend, string Pattern, string Text, bool IsNfc = false);

    /// <summary>The Metaspace pre-tokenizer: spaces → Replacement, an optional prefix, optional split before each.</summary>
    public sealed record MetaspaceSpec(char Replacement, bool Prepend, bool Split, bool PrependFirstOnly = false);

    /// <summary>One pre-tokenizer of the Hugging Face pipeline, in file order.</summary>
    public abstract record PreStep;
    /// <summary>Split with behavior Isolated: each match and each stretch between matches is a piece.</summary>
    public sealed record SplitStep(PreTokenizerPattern Pattern) : PreStep;
    /// <summary>ByteLevel: optional prefix space, optional GPT-2 regex split, then bytes → GPT-2 alphabet.</summary>
    public sealed record ByteLevelStep(bool AddPrefixSpace, bool UseRegex) : PreStep;
    public sealed record MetaspaceStep(MetaspaceSpec Spec) : PreStep;

    /// <summary>What the post-processor puts around a single sequence when special tokens are added.</summary>
    public sealed record TemplateSpec(int[] Prefix, int[] Suffix, string? FirstSpecialToken, string? LastSpecialToken);

    /// <summary>Every pre-tokenizer in order (Metaspace included), for the Hugging Face pipeline.</summary>
    public List<PreStep> PreSteps { get; init; } = [];
    public bool IsByteLevel => PreSteps.Any(p => p is ByteLevelStep);
    public TemplateSpec Template { get; init; } = new([], [], null, null);
    /// <summary>The decoder's steps, or null when the file has none.</summary>
    public List<HfDecoder.Step>? Decoder { get; init; }
    /// <summary>Ids of added tokens matched after normalization (normalized: true); the others match the raw text.</summary>
    public HashSet<int> NormalizedAdded { get; init; } = [];

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
        var preSteps = new List<PreStep>();
        if (root.TryGetProperty("pre_tokenizer", out var pre))
            ParsePreTokenizer(pre, preSteps, bad);
        if (preSteps.Count > 0 && preSteps.Any(p => p is ByteLevelStep) && byteFallback)
            throw new QuantNativeException(
                $"{bad}: pre_tokenizer \"ByteLevel\" together with model.byte_fallback is not supported (byte-level BPE " +
                "has every byte in its alphabet and needs no byte fallback)");
        // The SentencePiece-style path reads a lone Metaspace; anything else goes through the pipeline.
        MetaspaceSpec? metaspace = preSteps is [MetaspaceStep only] ? only.Spec : null;
        var (added, normalizedAdded) = ParseAddedTokens(root, bad);
        var template = ParsePostProcessor(root, vocab, added, bad);
        return new HfTokenizerJsonSpec(vocab, merges, byteFallback, unknown,
            OptionalBool(model, "fuse_unk", false, bad), OptionalBool(model, "ignore_merges", false, bad),
            normalizers, metaspace, added, template.FirstSpecialToken)
        {
            PreSteps = preSteps,
            Template = template,
            Decoder = root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind != JsonValueKind.Null
                ? ParseDecoder(decoder, [], bad)
                : null,
            NormalizedAdded = normalizedAdded,
        };
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
            case "NFC":
                steps.Add(new Step(false, "", "", IsNfc: true));
                break;
            default:
                throw new QuantNativeException(
                    $"{bad}: normalizer \"{type}\" is not supported (LLaMA-family tokenizer.json files use Prepend, " +
                    "Replace and NFC)");
        }
    }

    private static void ParsePreTokenizer(JsonElement p, List<PreStep> steps, string bad)
    {
        if (p.ValueKind == JsonValueKind.Null) return;
        string type = TypeOf(p, "pre_tokenizer", bad);
        switch (type)
        {
            case "Sequence":
                if (!p.TryGetProperty("pretokenizers", out var list) || list.ValueKind != JsonValueKind.Array)
                    throw new QuantNativeException($"{bad}: a Sequence pre_tokenizer has no \"pretokenizers\" array");
                foreach (var child in list.EnumerateArray())
                    ParsePreTokenizer(child, steps, bad);
                break;
            case "Metaspace":
                steps.Add(new MetaspaceStep(ParseMetaspace(p, bad)));
                break;
            case "ByteLevel":
                // Hugging Face's defaults: add_prefix_space true, use_regex true.
                steps.Add(new ByteLevelStep(OptionalBool(p, "add_prefix_space", true, bad), OptionalBool(p, "use_regex", true, bad)));
                break;
            case "Split":
                string behavior = OptionalString(p, "behavior", bad) ?? "(none)";
                if (behavior != "Isolated")
                    throw new QuantNativeException(
                        $"{bad}: Split pre_tokenizer behavior \"{behavior}\" is not supported (only Isolated, as Llama 3 and Qwen use)");
                if (OptionalBool(p, "invert", false, bad))
                    throw new QuantNativeException($"{bad}: Split pre_tokenizer with invert: true is not supported");
                if (!p.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
                    throw new QuantNativeException($"{bad}: a Split pre_tokenizer has no \"pattern\" object");
                if (pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
                    steps.Add(new SplitStep(PreTokenizerPattern.Create(regex.GetString()!, bad)));
                else if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String
                         && literal.GetString()!.Length > 0)
                    steps.Add(new SplitStep(PreTokenizerPattern.Literal(literal.GetString()!)));
                else
                    throw new QuantNativeException($"{bad}: a Split pre_tokenizer's pattern is neither {{\"Regex\": ...}} nor {{\"String\": ...}}");
                break;
            default:
                throw new QuantNativeException(
                    $"{bad}: pre_tokenizer \"{type}\" is not supported (LLaMA-family tokenizer.json files use Metaspace, " +
                    "or Split and ByteLevel)");
        }
    }

    private static MetaspaceSpec ParseMetaspace(JsonElement p, string bad)
    {
        string replacement = OptionalString(p, "replacement", bad) ?? "\u2581";
        if (replacement.Length != 1)
            throw new QuantNativeException($"{bad}: Metaspace replacement \"{replacement}\" is not one character");
        // Newer files say prepend_scheme; older ones add_prefix_space (true meaning "always").
        string scheme = OptionalString(p, "prepend_scheme", bad)
                        ?? (OptionalBool(p, "add_prefix_space", true, bad) ? "always" : "never");
        if (scheme is not ("always" or "first" or "never"))
            throw new QuantNativeException($"{bad}: Metaspace prepend_scheme \"{scheme}\" is not always/first/never");
        // With no earlier pre-tokenizer the text is one piece, so "always" and "first" both prepend once.
        return new MetaspaceSpec(replacement[0], scheme != "never", OptionalBool(p, "split", true, bad), scheme == "first");
    }

    /// <summary>The post-processor's template for one sequence: TemplateProcessing, Bert/RobertaProcessing, ByteLevel
    /// (no tokens) or a Sequence of them.</summary>
    private static TemplateSpec ParsePostProcessor(JsonElement root, Dictionary<string, int> vocab,
        List<(int Id, string Content, bool Special)> added, string bad)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        string? first = null, last = null;
        if (root.TryGetProperty("post_processor", out var p)) Visit(p);
        return new TemplateSpec([.. prefix], [.. suffix], first, last);

        void Visit(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Null) return;
            string type = TypeOf(e, "post_processor", bad);
            switch (type)
            {
                case "ByteLevel": return; // offsets only
                case "Sequence":
                    if (!e.TryGetProperty("processors", out var list) || list.ValueKind != JsonValueKind.Array)
                        throw new QuantNativeException($"{bad}: a Sequence post_processor has no \"processors\" array");
                    foreach (var child in list.EnumerateArray()) Visit(child);
                    return;
                case "TemplateProcessing":
                    if (!e.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array)
                        throw new QuantNativeException($"{bad}: the TemplateProcessing post_processor has no \"single\" array");
                    e.TryGetProperty("special_tokens", out var specials);
                    bool seenSequence = false;
                    foreach (var piece in single.EnumerateArray())
                    {
                        if (piece.ValueKind == JsonValueKind.Object && piece.TryGetProperty("Sequence", out _))
                        {
                            seenSequence = true;
                            continue;
                        }
                        if (piece.ValueKind != JsonValueKind.Object || !piece.TryGetProperty("SpecialToken", out var st)
                            || st.ValueKind != JsonValueKind.Object || !st.TryGetProperty("id", out var idJson)
                            || idJson.ValueKind != JsonValueKind.String)
                            throw new QuantNativeException($"{bad}: a TemplateProcessing \"single\" item is neither Sequence nor SpecialToken");
                        string name = idJson.GetString()!;
                        int[] ids = SpecialIds(specials, name);
                        (seenSequence ? suffix : prefix).AddRange(ids);
                        if (!seenSequence) first ??= name;
                        else last = name;
                    }
                    return;
                case "BertProcessing":
                case "RobertaProcessing":
                    prefix.Add(PairId(e, "cls"));
                    suffix.Add(PairId(e, "sep"));
                    first ??= e.GetProperty("cls")[0].GetString();
                    last = e.GetProperty("sep")[0].GetString();
                    return;
                default:
                    throw new QuantNativeException(
                        $"{bad}: post_processor \"{type}\" is not supported (TemplateProcessing, ByteLevel, Sequence, Bert/RobertaProcessing are)");
            }
        }

        int[] SpecialIds(JsonElement specials, string name)
        {
            if (specials.ValueKind == JsonValueKind.Object && specials.TryGetProperty(name, out var entry)
                && entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("ids", out var ids)
                && ids.ValueKind == JsonValueKind.Array)
                return ids.EnumerateArray().Select(i => IsInt(i, out int v) && v >= 0 ? v
                    : throw new QuantNativeException($"{bad}: post_processor special token \"{name}\" has an id that is not a non-negative integer")).ToArray();
            // Older files: no special_tokens map; the token's own id.
            if (vocab.TryGetValue(name, out int id)) return [id];
            foreach (var t in added) if (t.Content == name) return [t.Id];
            throw new QuantNativeException($"{bad}: post_processor special token \"{name}\" is not defined");
        }

        int PairId(JsonElement e, string field) =>
            e.TryGetProperty(field, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2
            && IsInt(pair[1], out int id) ? id
                : throw new QuantNativeException($"{bad}: post_processor field \"{field}\" is not [token, id]");
    }

    private static List<HfDecoder.Step> ParseDecoder(JsonElement d, List<HfDecoder.Step> steps, string bad)
    {
        if (d.ValueKind == JsonValueKind.Null) return steps;
        string type = TypeOf(d, "decoder", bad);
        switch (type)
        {
            case "Sequence":
                if (!d.TryGetProperty("decoders", out var list) || list.ValueKind != JsonValueKind.Array)
                    throw new QuantNativeException($"{bad}: a Sequence decoder has no \"decoders\" array");
                foreach (var child in list.EnumerateArray()) ParseDecoder(child, steps, bad);
                break;
            case "Replace":
                steps.Add(new HfDecoder.Replace(StringPattern(d, bad), RequiredString(d, "content", bad)));
                break;
            case "ByteFallback": steps.Add(new HfDecoder.ByteFallback()); break;
            case "Fuse": steps.Add(new HfDecoder.Fuse()); break;
            case "ByteLevel": steps.Add(new HfDecoder.ByteLevel()); break;
            case "Strip":
                string content = RequiredString(d, "content", bad);
                if (content.Length != 1)
                    throw new QuantNativeException($"{bad}: a Strip decoder's content \"{content}\" is not one character");
                steps.Add(new HfDecoder.Strip(content[0], OptionalCount(d, "start"), OptionalCount(d, "stop")));
                break;
            case "Metaspace":
                var meta = ParseMetaspace(d, bad);
                steps.Add(new HfDecoder.Metaspace(meta.Replacement, meta.Prepend));
                break;
            default:
                throw new QuantNativeException(
                    $"{bad}: decoder \"{type}\" is not supported (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace are)");
        }
        return steps;

        int OptionalCount(JsonElement e, string name) =>
            !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? 0
            : IsInt(v, out int n) && n >= 0 ? n
            : throw new QuantNativeException($"{bad}: a Strip decoder's \"{name}\" is not a non-negative integer");
    }

    /// <summary>An int32 JSON number (TryGetInt32 itself throws on a string or any other kind).</summary>
    private static bool IsInt(JsonElement e, out int value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out value);
    }

    private static (List<(int, string, bool)>, HashSet<int>) ParseAddedTokens(JsonElement root, string bad)
    {
        var added = new List<(int, string, bool)>();
        var normalized = new HashSet<int>();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null) return (added, normalized);
        if (list.ValueKind != JsonValueKind.Array)
            throw new QuantNativeException($"{bad}: added_tokens is not an array");
        foreach (var t in list.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("id", out var id) || !IsInt(id, out int i) || i < 0)
                throw new QuantNativeException($"{bad}: an entry of added_tokens has no non-negative integer \"id\"");
            string content = RequiredString(t, "content", bad);
            foreach (string flag in new[] { "lstrip", "rstrip", "single_word" })
                if (OptionalBool(t, flag, false, bad))
                    throw new QuantNativeException($"{bad}: added token \"{content}\" has {flag}: true, which is not supported");
            bool special = OptionalBool(t, "special", false, bad);
            // Hugging Face's default: special tokens match the raw text, others the normalized text.
            if (OptionalBool(t, "normalized", !special, bad)) normalized.Add(i);
            added.Add((i, content, special));
        }
        return (added, normalized);
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
