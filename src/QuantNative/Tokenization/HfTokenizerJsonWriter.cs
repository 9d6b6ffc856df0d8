using System.Text.Encodings.Web;
using System.Text.Json;

namespace QuantNative.Tokenization;

/// <summary>
/// Writes a Hugging Face tokenizer.json for a llama2.c tokenizer, in the shape transformers' LlamaConverter gives
/// LLaMA: a BPE model with byte fallback, normalizer Prepend("▁") + Replace(" " → "▁"), decoder
/// Replace("▁" → " ") / ByteFallback / Fuse / Strip(1 leading space), and a post-processor adding &lt;s&gt;.
/// The merges are derived from the vocabulary as the converter derives them from a SentencePiece model: every way
/// a Normal piece splits into two Normal pieces is a merge, ordered by the merged piece's score (highest first),
/// then by vocabulary order, then by the halves' ids. With distinct scores (as llama2.c's and LLaMA's vocabularies
/// have) these ranks merge in the same order as SentencePiece's scores.
/// </summary>
public static class HfTokenizerJsonWriter
{
    private const string SpaceMark = "\u2581";

    public static void Write(Llama2cTokenizer tokenizer, string path)
    {
        byte[] json = ToBytes(tokenizer);
        try
        {
            File.WriteAllBytes(path, json);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: cannot write tokenizer.json: {e.Message}", e);
        }
    }

    public static byte[] ToBytes(Llama2cTokenizer tokenizer)
    {
        string[] pieces = SentencePieceModelWriter.SentencePiecePieces(tokenizer);
        var stream = new MemoryStream();
        // Relaxed escaping keeps "▁" and other non-ASCII pieces readable; JSON readers accept either form.
        var options = new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var w = new Utf8JsonWriter(stream, options))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            WriteAddedTokens(w, pieces, tokenizer);
            WriteNormalizer(w);
            w.WriteNull("pre_tokenizer");
            WritePostProcessor(w, pieces[tokenizer.BosId], tokenizer.BosId);
            WriteDecoder(w);
            WriteModel(w, pieces, tokenizer);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteAddedTokens(Utf8JsonWriter w, string[] pieces, Llama2cTokenizer tokenizer)
    {
        w.WriteStartArray("added_tokens");
        for (int id = 0; id < pieces.Length; id++)
        {
            if (tokenizer.Kinds[id] is not (PieceKind.Unknown or PieceKind.Control)) continue;
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", pieces[id]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteNormalizer(Utf8JsonWriter w)
    {
        w.WriteStartObject("normalizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        w.WriteStartObject();
        w.WriteString("type", "Prepend");
        w.WriteString("prepend", SpaceMark);
        w.WriteEndObject();
        WriteReplace(w, " ", SpaceMark);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WritePostProcessor(Utf8JsonWriter w, string bos, int bosId)
    {
        w.WriteStartObject("post_processor");
        w.WriteString("type", "TemplateProcessing");
        w.WriteStartArray("single");
        WriteTemplatePiece(w, "SpecialToken", bos, 0);
        WriteTemplatePiece(w, "Sequence", "A", 0);
        w.WriteEndArray();
        w.WriteStartArray("pair");
        WriteTemplatePiece(w, "SpecialToken", bos, 0);
        WriteTemplatePiece(w, "Sequence", "A", 0);
        WriteTemplatePiece(w, "SpecialToken", bos, 1);
        WriteTemplatePiece(w, "Sequence", "B", 1);
        w.WriteEndArray();
        w.WriteStartObject("special_tokens");
        w.WriteStartObject(bos);
        w.WriteString("id", bos);
        w.WriteStartArray("ids");
        w.WriteNumberValue(bosId);
        w.WriteEndArray();
        w.WriteStartArray("tokens");
        w.WriteStringValue(bos);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteTemplatePiece(Utf8JsonWriter w, string kind, string id, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject(kind);
        w.WriteString("id", id);
        w.WriteNumber("type_id", typeId);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteDecoder(Utf8JsonWriter w)
    {
        w.WriteStartObject("decoder");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("decoders");
        WriteReplace(w, SpaceMark, " ");
        foreach (string type in new[] { "ByteFallback", "Fuse" })
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteEndObject();
        }
        w.WriteStartObject();
        w.WriteString("type", "Strip");
        w.WriteString("content", " ");
        w.WriteNumber("start", 1);
        w.WriteNumber("stop", 0);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteReplace(Utf8JsonWriter w, string pattern, string content)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern");
        w.WriteString("String", pattern);
        w.WriteEndObject();
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter w, string[] pieces, Llama2cTokenizer tokenizer)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteString("unk_token", pieces[Llama2cTokenizer.UnknownId]);
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", true);
        w.WriteBoolean("byte_fallback", true);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int id = 0; id < pieces.Length; id++)
            w.WriteNumber(pieces[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in Merges(pieces, tokenizer))
        {
            w.WriteStartArray();
            w.WriteStringValue(pieces[left]);
            w.WriteStringValue(pieces[right]);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The merge rules, as pairs of ids, in rank order.</summary>
    internal static List<(int Left, int Right)> Merges(string[] pieces, Llama2cTokenizer tokenizer)
    {
        var normal = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < pieces.Length; id++)
            if (tokenizer.Kinds[id] == PieceKind.Normal)
                normal.TryAdd(pieces[id], id);
        var rules = new List<(int Merged, int Left, int Right)>();
        for (int id = 0; id < pieces.Length; id++)
        {
            if (tokenizer.Kinds[id] != PieceKind.Normal) continue;
            string piece = pieces[id];
            for (int k = 1; k < piece.Length; k++)
                if (normal.TryGetValue(piece[..k], out int left) && normal.TryGetValue(piece[k..], out int right))
                    rules.Add((id, left, right));
        }
        // Stable order: score desc; ties by the merged piece's id, then the halves' ids.
        var ordered = rules.OrderByDescending(r => tokenizer.Scores[r.Merged])
            .ThenBy(r => r.Merged).ThenBy(r => r.Left).ThenBy(r => r.Right);
        return [.. ordered.Select(r => (r.Left, r.Right))];
    }
}
