using System.Text;
using System.Text.Json;
using QuantNative.Formats;

namespace QuantNative.Tokenization;

/// <summary>How a tokenizer.json treats text that spells special tokens or SentencePiece's space mark.</summary>
public enum TokenizerJsonSemantics
{
    /// <summary>
    /// This project's round-trip semantics (Decode(Encode(x)) == x), as for tokenizer.model: added tokens written in
    /// the text are plain text, a literal U+2581 in a SentencePiece-style file is its byte tokens, and decoding
    /// drops special tokens and the dummy prefix.
    /// </summary>
    RoundTrip,

    /// <summary>
    /// Hugging Face tokenizers' own: added tokens written in the text become their ids (leftmost, longest), the
    /// normalizer runs on each stretch between them, and decoding runs the file's decoder. Identical ids to
    /// tokenizers' encode(text, add_special_tokens) on Mistral, Llama 3 and Qwen (tests pin it).
    /// </summary>
    HuggingFace,
}

/// <summary>
/// A Hugging Face tokenizer.json with a BPE model, encoded here with tokenizers' algorithms (pure C#): the
/// SentencePiece-style kind (merge ranks, byte fallback, "▁" for spaces: LLaMA 2, Mistral) and the byte-level kind
/// (regex Split pre-tokenizers, GPT-2's byte alphabet, NFC, ignore_merges: Llama 3, Qwen). Microsoft.ML.Tokenizers'
/// BpeTokenizer is not used: it has no byte fallback, so characters outside the vocabulary would not encode as LLaMA
/// encodes them.
///
/// <see cref="TokenizerJsonSemantics"/> chooses what literal special-token text means. With
/// <see cref="TokenizerJsonSemantics.RoundTrip"/> a SentencePiece-style file is encoded by this project's rules
/// (the file's "decoder" is not interpreted: decoding undoes what the normalizer and pre-tokenizer did); a
/// byte-level file goes through the Hugging Face pipeline with added tokens left as plain text.
/// <see cref="TokenizerJsonSemantics.HuggingFace"/> (what <see cref="TokenizerLoader"/> uses) gives tokenizers' ids.
/// </summary>
public sealed partial class HfTokenizerJson : ITextTokenizer
{
    private readonly HfTokenizerJsonSpec _spec;
    private readonly RankBpeEncoder _encoder;
    private readonly PieceDecoder _decoder;
    private readonly char? _spaceMark;
    private readonly int[] _spaceMarkIds;
    private readonly string[] _pieces;

    private HfTokenizerJson(string path, HfTokenizerJsonSpec spec, TokenizerJsonSemantics semantics)
    {
        SourcePath = path;
        _spec = spec;
        Semantics = semantics;
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

        // The Hugging Face pipeline: for Hugging Face semantics, and for every file that is not a plain
        // SentencePiece-style one (the round-trip rules above know only Prepend/Replace and a lone Metaspace).
        _usePipeline = semantics == TokenizerJsonSemantics.HuggingFace || !IsSentencePieceStyle(spec);
        if (_usePipeline)
        {
            (BosId, EosId) = PipelineSpecialIds(path);
            _pipeline = new Pipeline(this, semantics == TokenizerJsonSemantics.HuggingFace);
        }
        else
        {
            BosId = FindToken(spec.TemplateBos ?? "<s>", "BOS", bad);
            EosId = FindToken("</s>", "EOS", bad);
        }
        AddsBos = BosId >= 0 && spec.Template.Prefix is [var first, ..] && first == BosId;
        PadId = ConfigPadId(path);
    }

    private int FindToken(string content, string role, string bad)
    {
        if (_spec.Vocab.TryGetValue(content, out int id)) return id;
        foreach (var t in _spec.AddedTokens)
            if (t.Content == content) return t.Id;
        throw new QuantNativeException($"{bad}: no {role} token \"{content}\" in the vocabulary or added_tokens");
    }

    /// <summary>Loads a tokenizer.json.</summary>
    /// <param name="path">The file.</param>
    /// <param name="semantics">What literal special-token text means (see <see cref="TokenizerJsonSemantics"/>).</param>
    public static HfTokenizerJson Load(string path, TokenizerJsonSemantics semantics = TokenizerJsonSemantics.RoundTrip)
    {
        using var doc = JsonInput.ParseFile(path, maxDepth: 256);
        return new HfTokenizerJson(path, HfTokenizerJsonSpec.Parse(doc.RootElement, path), semantics);
    }

    /// <summary>A tokenizer.json held in memory (GGUF's byte-level vocabularies are read through one);
    /// <paramref name="path"/> names it in messages.</summary>
    public static HfTokenizerJson Parse(byte[] data, string path, TokenizerJsonSemantics semantics)
    {
        using var doc = JsonInput.Parse(data, path, maxDepth: 256);
        return new HfTokenizerJson(path, HfTokenizerJsonSpec.Parse(doc.RootElement, path), semantics);
    }

    /// <summary>The file this tokenizer came from (used in messages).</summary>
    public string SourcePath { get; }

    public int VocabSize => _pieces.Length;
    /// <summary>The BOS id: the template's first special token, else tokenizer_config.json's bos_token (beside the
    /// file), else "&lt;s&gt;"; -1 when there is none (Qwen).</summary>
    public int BosId { get; }

    /// <summary>The EOS id: tokenizer_config.json's eos_token, else the template's last special token, else
    /// "&lt;/s&gt;"; -1 when there is none.</summary>
    public int EosId { get; }

    /// <summary>The padding id: tokenizer_config.json's pad_token beside the file; -1 when there is none.</summary>
    public int PadId { get; }

    /// <summary>Whether the post-processor's template puts BOS first (Hugging Face's add_special_tokens).</summary>
    public bool AddsBos { get; }

    public TokenizerJsonSemantics Semantics { get; }

    /// <summary>The pieces by id, as the file spells them ("" for ids the file does not define).</summary>
    public IReadOnlyList<string> Pieces => _pieces;

    /// <summary>Token ids of <paramref name="text"/>, with BOS first when <paramref name="addBos"/> and the
    /// tokenizer has one (a tokenizer without a BOS token, as Qwen's, adds nothing).</summary>
    public int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_usePipeline)
        {
            var list = new List<int>(text.Length / 3 + 2);
            if (addBos && BosId >= 0) list.Add(BosId);
            _pipeline!.Encode(text, list);
            return [.. list];
        }
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

    /// <summary>The text of a token sequence: special tokens dropped (Hugging Face's skip_special_tokens) and, with
    /// the pipeline, the file's decoder run.</summary>
    public string Decode(ReadOnlySpan<int> ids) =>
        _usePipeline ? _pipeline!.Decode(ids, skipSpecialTokens: true) : _decoder.Decode(ids);
}
