using System.Text;
using System.Text.Json;

namespace QuantNative.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json for a SentencePiece-style LLaMA vocabulary (BPE with merge ranks, byte fallback,
/// "▁" for spaces), encoded here with tokenizers' BPE algorithm. Microsoft.ML.Tokenizers' BpeTokenizer is not used:
/// it has no byte fallback, so characters outside the vocabulary would not encode as LLaMA encodes them.
///
/// Semantics are this project's <see cref="ITextTokenizer"/>'s, which differ from transformers' in two deliberate
/// ways: added special tokens written in the text ("&lt;s&gt;") are plain text, not split out as control tokens
/// (SentencePiece's behaviour), and a literal U+2581 in the text is encoded as its byte tokens rather than read as
/// a space, so that Decode(Encode(x)) == x. The file's "decoder" section is not interpreted: decoding undoes what
/// the normalizer and pre-tokenizer did (space marks back to spaces, byte tokens to bytes, the prefix space dropped).
/// </summary>
public sealed class HfTokenizerJson : ITextTokenizer
{
    private readonly HfTokenizerJsonSpec _spec;
    private readonly RankBpeEncoder _encoder;
    private readonly PieceDecoder _decoder;
    private readonly char? _spaceMark;
    private readonly int[] _spaceMarkIds;
    private readonly string[] _pieces;

    private HfTokenizerJson(string path, HfTokenizerJsonSpec spec)
    {
        SourcePath = path;
        _spec = spec;
        string bad = $"{path}: not a supported tokenizer.json";

        // The character that stands for a space inside pieces: from Replace(" " → c) or Metaspace.
        _spaceMark = spec.Metaspace?.Replacement;
        foreach (var step in spec.Normalizers)
            if (!step.IsPrepend && step.Pattern == " " && step.Text.Length == 1)
                _spaceMark = step.Text[0];

        int size = 0;
        foreach (int id in spec.Vocab.Values) size = Math.Max(size, id + 1);
        foreach (var t in spec.AddedTokens) size = Math.Max(size, t.Id + 1);
        _pieces = new string[size];
        var kinds = new PieceKind[size];
        var byteValues = new byte[size];
        var texts = new string[size];
        Array.Fill(kinds, PieceKind.Unknown); // ids in neither list (gaps) decode to nothing
        Array.Fill(_pieces, "");
        var byteIds = new int[256];
        Array.Fill(byteIds, -1);
        foreach (var (piece, id) in spec.Vocab)
        {
            _pieces[id] = piece;
            if (spec.ByteFallback && BytePieces.TryParse(piece, out byte b))
            {
                kinds[id] = PieceKind.Byte;
                byteValues[id] = b;
                byteIds[b] = id;
            }
            else
            {
                kinds[id] = PieceKind.Normal;
                texts[id] = _spaceMark is { } mark ? piece.Replace(mark, ' ') : piece;
            }
        }
        int unknownId = spec.UnknownToken != null ? spec.Vocab[spec.UnknownToken] : -1;
        foreach (var (id, content, special) in spec.AddedTokens)
        {
            _pieces[id] = content;
            if (special) kinds[id] = id == unknownId ? PieceKind.Unknown : PieceKind.Control;
            else if (kinds[id] != PieceKind.Byte) (kinds[id], texts[id]) = (PieceKind.Normal, content);
        }
        for (int id = 0; id < size; id++) texts[id] ??= "";

        BosId = FindToken(spec.TemplateBos ?? "<s>", "BOS", bad);
        EosId = FindToken("</s>", "EOS", bad);
        _encoder = new RankBpeEncoder(spec.Vocab, spec.Merges, spec.ByteFallback ? byteIds : null, unknownId,
            spec.FuseUnknown, spec.IgnoreMerges);
        // A literal space mark in the text: its byte tokens (not the vocabulary's "▁", which means a space), or
        // <unk> when they are missing, or nothing when there is no <unk> either (tokenizers drops such characters).
        _spaceMarkIds = [];
        if (_spaceMark is { } m)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(m.ToString());
            _spaceMarkIds = spec.ByteFallback && utf8.All(b => byteIds[b] >= 0) ? [.. utf8.Select(b => byteIds[b])]
                : unknownId >= 0 ? [unknownId]
                : [];
        }
        bool addsPrefix = spec.Metaspace?.Prepend == true
                          || spec.Normalizers.Any(s => s.IsPrepend && (s.Text == " " || s.Text == _spaceMark?.ToString()));
        _decoder = new PieceDecoder(texts, kinds, byteValues, path, addsPrefix);
    }

    private int FindToken(string content, string role, string bad)
    {
        if (_spec.Vocab.TryGetValue(content, out int id)) return id;
        foreach (var t in _spec.AddedTokens)
            if (t.Content == content) return t.Id;
        throw new QuantNativeException($"{bad}: no {role} token \"{content}\" in the vocabulary or added_tokens");
    }

    /// <summary>Loads a tokenizer.json.</summary>
    public static HfTokenizerJson Load(string path)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new QuantNativeException($"{path}: tokenizer.json not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: cannot read tokenizer.json: {e.Message}", e);
        }
        try
        {
            using var doc = JsonDocument.Parse(data, new JsonDocumentOptions { MaxDepth = 256 });
            return new HfTokenizerJson(path, HfTokenizerJsonSpec.Parse(doc.RootElement, path));
        }
        catch (JsonException e)
        {
            throw new QuantNativeException($"{path}: tokenizer.json is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>The file this tokenizer came from (used in messages).</summary>
    public string SourcePath { get; }

    public int VocabSize => _pieces.Length;
    public int BosId { get; }
    public int EosId { get; }

    /// <summary>The pieces by id, as the file spells them ("" for ids the file does not define).</summary>
    public IReadOnlyList<string> Pieces => _pieces;

    public int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 2 + 2);
        if (addBos) ids.Add(BosId);
        if (text.Length == 0) return [.. ids];

        int start = 0;
        while (true)
        {
            // A literal space mark in the text is kept out of normalization (which would make it a space).
            int mark = _spaceMark is { } m ? text.IndexOf(m, start) : -1;
            int end = mark < 0 ? text.Length : mark;
            EncodePart(text[start..end], first: start == 0, ids);
            if (mark < 0) break;
            ids.AddRange(_spaceMarkIds);
            start = mark + 1;
        }
        return [.. ids];
    }

    /// <summary>Normalizes and pre-tokenizes one part of the text, then BPE-encodes each word.</summary>
    private void EncodePart(string part, bool first, List<int> ids)
    {
        foreach (var step in _spec.Normalizers)
            part = step.IsPrepend ? (first ? step.Text + part : part) : part.Replace(step.Pattern, step.Text, StringComparison.Ordinal);
        if (_spec.Metaspace is not { } meta)
        {
            _encoder.Encode(part, ids);
            return;
        }
        part = part.Replace(' ', meta.Replacement);
        if (first && meta.Prepend && !part.StartsWith(meta.Replacement))
            part = meta.Replacement + part;
        if (!meta.Split)
        {
            _encoder.Encode(part, ids);
            return;
        }
        // split = true: a word starts at each replacement character (merged with what follows it).
        int wordStart = 0;
        for (int i = 1; i <= part.Length; i++)
            if (i == part.Length || part[i] == meta.Replacement)
            {
                _encoder.Encode(part.AsSpan(wordStart, i - wordStart), ids);
                wordStart = i;
            }
    }

    public string Decode(ReadOnlySpan<int> ids) => _decoder.Decode(ids);
}
