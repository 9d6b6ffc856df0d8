using System.Text.Json;
using QuantNative.Formats.Gguf;
using QuantNative.Model;

namespace QuantNative.Tokenization.Gguf;

/// <summary>
/// The tokenizer.ggml.* metadata llama.cpp tokenizes with, from the tokenizer qn loaded:
/// <list type="bullet">
/// <item>SentencePiece-style (llama2.c tok.bin, tokenizer.model, a SentencePiece-style tokenizer.json such as
///   Mistral's): model "llama" with tokens (spaces as U+2581), scores and token types. llama.cpp's SPM tokenizer merges
///   the adjacent pair whose concatenation scores highest; a tokenizer.json has merge ranks instead, so each piece's
///   score is minus the rank of the first merge that makes it (convert_hf_to_gguf's LlamaHfVocab writes −1000 for every
///   piece, which would make llama.cpp merge left to right rather than by rank).</item>
/// <item>byte-level tokenizer.json (Llama 3, Qwen): model "gpt2" with tokens, merges, token types and the pre-tokenizer
///   name llama.cpp knows the Split regex by (llama-bpe, qwen2); any other regex is refused by name.</item>
/// </list>
/// Plus bos/eos (and unk, and padding when the tokenizer names one) ids and add_bos_token as the tokenizer's template decides; the vocabulary is padded to the
/// embedding's rows with [PADn] tokens of type UNUSED, as convert_hf_to_gguf does.
/// </summary>
public static class GgufTokenizerMetadata
{
    public const string Llama3Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    public const string Qwen2Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /// <summary>The pre-tokenizer names qn writes and reads, with their Split regex (tokenizer.json's spelling).</summary>
    public static readonly IReadOnlyDictionary<string, string> PreTokenizers = new Dictionary<string, string>
    {
        ["llama-bpe"] = Llama3Regex,
        ["qwen2"] = Qwen2Regex,
    };

    private const char SpaceMark = '\u2581';

    public static List<KeyValuePair<string, GgufValue>> From(ITextTokenizer tokenizer, LlamaConfig config)
    {
        var kv = new List<KeyValuePair<string, GgufValue>>();
        switch (tokenizer)
        {
            case Llama2cTokenizer l:
            {
                var pieces = l.Pieces.Select((p, id) => id switch
                {
                    0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => l.Kinds[id] == PieceKind.Byte ? p : p.Replace(' ', SpaceMark),
                }).ToArray();
                Spm(kv, pieces, l.Scores.ToArray(), l.Kinds.Select(GgufTokenTypes.Of).ToArray(), config, addSpacePrefix: true);
                break;
            }
            case SentencePieceTokenizer sp:
                Spm(kv, sp.Pieces.ToArray(), sp.Scores.ToArray(), sp.Kinds.Select(GgufTokenTypes.Of).ToArray(), config, addSpacePrefix: true);
                break;
            case HfTokenizerJson json:
                FromTokenizerJson(kv, json, config);
                break;
            default:
                throw new QuantNativeException($"tokenizer {tokenizer.GetType().Name}: no GGUF form for it");
        }
        if (tokenizer.BosId >= 0) kv.Add(new("tokenizer.ggml.bos_token_id", GgufValue.Of((uint)tokenizer.BosId)));
        int eos = config.Identity.EosTokenIds.Count > 0 ? config.Identity.EosTokenIds[0] : tokenizer.EosId;
        if (eos >= 0) kv.Add(new("tokenizer.ggml.eos_token_id", GgufValue.Of((uint)eos)));
        if (tokenizer.PadId >= 0) kv.Add(new("tokenizer.ggml.padding_token_id", GgufValue.Of((uint)tokenizer.PadId)));
        kv.Add(new("tokenizer.ggml.add_bos_token", GgufValue.Of(tokenizer.AddsBos)));
        kv.Add(new("tokenizer.ggml.add_eos_token", GgufValue.Of(false)));
        return kv;
    }

    private static void Spm(List<KeyValuePair<string, GgufValue>> kv, string[] pieces, float[] scores, int[] types,
        LlamaConfig c, bool addSpacePrefix)
    {
        (pieces, scores, types) = Pad(pieces, scores, types, c.VocabSize);
        kv.Add(new("tokenizer.ggml.model", GgufValue.Of("llama")));
        kv.Add(new("tokenizer.ggml.tokens", GgufValue.Of(pieces)));
        kv.Add(new("tokenizer.ggml.scores", GgufValue.Of(scores)));
        kv.Add(new("tokenizer.ggml.token_type", GgufValue.Of(types)));
        int unk = Array.IndexOf(types, GgufTokenTypes.Unknown);
        if (unk >= 0) kv.Add(new("tokenizer.ggml.unknown_token_id", GgufValue.Of((uint)unk)));
        kv.Add(new("tokenizer.ggml.add_space_prefix", GgufValue.Of(addSpacePrefix)));
    }

    private static (string[], float[], int[]) Pad(string[] pieces, float[] scores, int[] types, int vocab)
    {
        if (pieces.Length > vocab)
            throw new QuantNativeException($"the tokenizer has {pieces.Length} tokens, more than the model's vocab_size {vocab}");
        int n = pieces.Length;
        Array.Resize(ref pieces, vocab);
        Array.Resize(ref scores, vocab);
        Array.Resize(ref types, vocab);
        for (int i = n; i < vocab; i++) (pieces[i], scores[i], types[i]) = ($"[PAD{i}]", -1000f, GgufTokenTypes.Unused);
        return (pieces, scores, types);
    }

    private static void FromTokenizerJson(List<KeyValuePair<string, GgufValue>> kv, HfTokenizerJson t, LlamaConfig c)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(t.SourcePath), new JsonDocumentOptions { MaxDepth = 256 });
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        var merges = model.GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : $"{m[0].GetString()} {m[1].GetString()}").ToArray();
        var special = new Dictionary<int, bool>();
        if (root.TryGetProperty("added_tokens", out var added))
            foreach (var a in added.EnumerateArray()) special[a.GetProperty("id").GetInt32()] = a.GetProperty("special").GetBoolean();
        string? unk = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        var pieces = t.Pieces.ToArray();
        var types = new int[pieces.Length];
        for (int id = 0; id < pieces.Length; id++)
            types[id] = special.TryGetValue(id, out bool s) ? (s ? GgufTokenTypes.Control : GgufTokenTypes.UserDefined)
                : byteFallback && BytePieces.TryParse(pieces[id], out _) ? GgufTokenTypes.Byte
                : GgufTokenTypes.Normal;
        int unkId = unk == null ? -1 : Array.IndexOf(pieces, unk);
        if (unkId >= 0) types[unkId] = GgufTokenTypes.Unknown;

        string? regex = SplitRegex(root);
        if (regex == null)
        {
            // SentencePiece-style: scores from the merge ranks.
            var rank = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int r = 0; r < merges.Length; r++)
            {
                int space = merges[r].IndexOf(' ');
                rank.TryAdd(merges[r].Remove(space, 1), r);
            }
            var scores = pieces.Select(p => rank.TryGetValue(p, out int r) ? -(float)r : 0f).ToArray();
            Spm(kv, pieces, scores, types, c, addSpacePrefix: true);
            return;
        }
        string pre = PreTokenizers.FirstOrDefault(p => p.Value == regex).Key
                     ?? throw new QuantNativeException($"{t.SourcePath}: the pre-tokenizer regex is not one llama.cpp knows by a name qn writes " +
                                                       $"({string.Join(", ", PreTokenizers.Keys)})");
        var scoresNone = new float[pieces.Length];
        (pieces, _, types) = Pad(pieces, scoresNone, types, c.VocabSize);
        kv.Add(new("tokenizer.ggml.model", GgufValue.Of("gpt2")));
        kv.Add(new("tokenizer.ggml.pre", GgufValue.Of(pre)));
        kv.Add(new("tokenizer.ggml.tokens", GgufValue.Of(pieces)));
        kv.Add(new("tokenizer.ggml.token_type", GgufValue.Of(types)));
        kv.Add(new("tokenizer.ggml.merges", GgufValue.Of(merges)));
    }

    /// <summary>The Split regex of a byte-level pre-tokenizer; null when the file has no ByteLevel pre-tokenizer
    /// (SentencePiece-style).</summary>
    private static string? SplitRegex(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var p) || p.ValueKind != JsonValueKind.Object) return null;
        var steps = p.GetProperty("type").GetString() == "Sequence" ? p.GetProperty("pretokenizers").EnumerateArray().ToList() : [p];
        bool byteLevel = steps.Any(s => s.GetProperty("type").GetString() == "ByteLevel");
        if (!byteLevel) return null;
        foreach (var s in steps)
            if (s.GetProperty("type").GetString() == "Split" && s.GetProperty("pattern").TryGetProperty("Regex", out var r))
                return r.GetString();
        throw new QuantNativeException("a byte-level tokenizer.json without a Split regex: no llama.cpp pre-tokenizer name for it");
    }
}
