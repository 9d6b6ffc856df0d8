using System.Text;
using System.Text.Json;
using QuantNative.Formats.Gguf;

namespace QuantNative.Tokenization.Gguf;

/// <summary>
/// The tokenizer of a GGUF file, encoding as llama.cpp does: model "llama" with its SPM algorithm (a space prefix,
/// spaces as U+2581, the highest-scoring adjacent merge first, byte fallback — <see cref="ScoreBpeEncoder"/>); model
/// "gpt2" as a byte-level BPE with the pre-tokenizer's regex, merge ranks, and for llama-bpe llama.cpp's
/// ignore_merges (read through <see cref="HfTokenizerJson"/> from a tokenizer.json made of the metadata; no NFC, which
/// llama.cpp does not apply either). BOS where add_bos_token says.
/// </summary>
public static class GgufTokenizer
{
    public static ITextTokenizer Load(string path)
    {
        using var file = GgufFile.Open(path);
        return Load(file);
    }

    public static ITextTokenizer Load(GgufFile f)
    {
        string model = f.Require("tokenizer.ggml.model").Value as string ?? "";
        var tokens = f.Require("tokenizer.ggml.tokens").Value as string[]
                     ?? throw new QuantNativeException($"{f.Path}: tokenizer.ggml.tokens is not an array of strings");
        var types = f.Find("tokenizer.ggml.token_type")?.Value is int[] t ? t : Enumerable.Repeat(GgufTokenTypes.Normal, tokens.Length).ToArray();
        if (types.Length != tokens.Length) throw new QuantNativeException($"{f.Path}: tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens");
        int bos = f.Find("tokenizer.ggml.bos_token_id") is { } b ? (int)b.AsInteger("bos") : -1;
        int eos = f.Find("tokenizer.ggml.eos_token_id") is { } e ? (int)e.AsInteger("eos") : -1;
        return model switch
        {
            "llama" => new GgufSpmTokenizer(f.Path, tokens,
                f.Require("tokenizer.ggml.scores").Value as float[] ?? throw new QuantNativeException($"{f.Path}: tokenizer.ggml.scores is not an array of floats"),
                types, bos, eos, f.Find("tokenizer.ggml.add_bos_token")?.Value as bool? ?? true,
                f.Find("tokenizer.ggml.add_space_prefix")?.Value as bool? ?? true),
            "gpt2" => ByteLevel(f, tokens, types, bos, f.Find("tokenizer.ggml.add_bos_token")?.Value as bool? ?? false),
            _ => throw new QuantNativeException($"{f.Path}: tokenizer.ggml.model {model}: qn reads llama and gpt2"),
        };
    }

    private static ITextTokenizer ByteLevel(GgufFile f, string[] tokens, int[] types, int bos, bool addBos)
    {
        string pre = f.Find("tokenizer.ggml.pre")?.Value as string ?? "default";
        if (!GgufTokenizerMetadata.PreTokenizers.TryGetValue(pre, out string? regex))
            throw new QuantNativeException($"{f.Path}: tokenizer.ggml.pre {pre}: qn reads {string.Join(", ", GgufTokenizerMetadata.PreTokenizers.Keys)}");
        var merges = f.Require("tokenizer.ggml.merges").Value as string[]
                     ?? throw new QuantNativeException($"{f.Path}: tokenizer.ggml.merges is not an array of strings");
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartArray("added_tokens");
            for (int id = 0; id < tokens.Length; id++)
            {
                if (types[id] is not (GgufTokenTypes.Control or GgufTokenTypes.UserDefined)) continue;
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", tokens[id]);
                w.WriteBoolean("single_word", false); w.WriteBoolean("lstrip", false); w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", types[id] == GgufTokenTypes.Control);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern"); w.WriteString("Regex", regex); w.WriteEndObject();
            w.WriteString("behavior", "Isolated"); w.WriteBoolean("invert", false);
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("type", "ByteLevel"); w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true); w.WriteBoolean("use_regex", false);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartObject("post_processor");
            if (addBos && bos >= 0)
            {
                w.WriteString("type", "TemplateProcessing");
                w.WriteStartArray("single");
                w.WriteStartObject(); w.WriteStartObject("SpecialToken"); w.WriteString("id", tokens[bos]); w.WriteNumber("type_id", 0); w.WriteEndObject(); w.WriteEndObject();
                w.WriteStartObject(); w.WriteStartObject("Sequence"); w.WriteString("id", "A"); w.WriteNumber("type_id", 0); w.WriteEndObject(); w.WriteEndObject();
                w.WriteEndArray();
                w.WriteStartArray("pair"); w.WriteEndArray();
                w.WriteStartObject("special_tokens");
                w.WriteStartObject(tokens[bos]);
                w.WriteString("id", tokens[bos]);
                w.WriteStartArray("ids"); w.WriteNumberValue(bos); w.WriteEndArray();
                w.WriteStartArray("tokens"); w.WriteStringValue(tokens[bos]); w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("type", "ByteLevel"); w.WriteBoolean("add_prefix_space", false);
                w.WriteBoolean("trim_offsets", false); w.WriteBoolean("use_regex", false);
            }
            w.WriteEndObject();
            w.WriteStartObject("decoder");
            w.WriteString("type", "ByteLevel"); w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", true); w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("unk_token");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            // llama.cpp looks a whole pre-token up first for llama-bpe (its LLAMA3 pre type), as tokenizers' ignore_merges.
            w.WriteBoolean("ignore_merges", pre == "llama-bpe");
            w.WriteStartObject("vocab");
            for (int id = 0; id < tokens.Length; id++)
                if (types[id] is GgufTokenTypes.Normal or GgufTokenTypes.Byte) w.WriteNumber(tokens[id], id);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var m in merges) w.WriteStringValue(m);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return HfTokenizerJson.Parse(stream.ToArray(), f.Path, TokenizerJsonSemantics.HuggingFace);
    }
}

/// <summary>A GGUF "llama" (SPM) vocabulary: pieces with U+2581 for spaces, scores, token types.</summary>
internal sealed class GgufSpmTokenizer : ITextTokenizer
{
    private const char SpaceMark = '\u2581';
    private readonly ScoreBpeEncoder _encoder;
    private readonly PieceDecoder _decoder;
    private readonly bool _spacePrefix;

    public GgufSpmTokenizer(string path, string[] tokens, float[] scores, int[] types, int bos, int eos, bool addBos, bool spacePrefix)
    {
        if (scores.Length != tokens.Length) throw new QuantNativeException($"{path}: tokenizer.ggml.scores has {scores.Length} entries for {tokens.Length} tokens");
        var kinds = types.Select(GgufTokenTypes.ToKind).ToArray();
        var byteIds = new int[256];
        var byteValues = new byte[tokens.Length];
        Array.Fill(byteIds, -1);
        for (int id = 0; id < tokens.Length; id++)
            if (kinds[id] == PieceKind.Byte && BytePieces.TryParse(tokens[id], out byte v))
            {
                byteValues[id] = v;
                if (byteIds[v] < 0) byteIds[v] = id;
            }
        if (byteIds.Contains(-1))
            throw new QuantNativeException($"{path}: the SPM vocabulary lacks some of the 256 byte tokens <0x00>..<0xFF>; qn encodes with byte fallback only");
        _encoder = new ScoreBpeEncoder(tokens, scores, kinds, byteIds);
        _decoder = new PieceDecoder(tokens.Select(p => p.Replace(SpaceMark, ' ')).ToArray(), kinds, byteValues, path, spacePrefix);
        (VocabSize, BosId, EosId, AddsBos, _spacePrefix) = (tokens.Length, bos, eos, addBos && bos >= 0, spacePrefix);
    }

    public int VocabSize { get; }
    public int BosId { get; }
    public int EosId { get; }
    public bool AddsBos { get; }

    public int[] Encode(string text, bool addBos)
    {
        var ids = new List<int>(text.Length / 2 + 2);
        if (addBos && BosId >= 0) ids.Add(BosId);
        if (text.Length == 0) return [.. ids];
        var s = new StringBuilder(text.Length + 1);
        if (_spacePrefix) s.Append(' ');
        s.Append(text).Replace(' ', SpaceMark);
        _encoder.Encode(s.ToString(), ids);
        return [.. ids];
    }

    public string Decode(ReadOnlySpan<int> ids) => _decoder.Decode(ids);
}
