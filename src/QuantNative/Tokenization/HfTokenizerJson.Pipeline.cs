using System.Text;
using System.Text.Json;
using QuantNative.Formats;

namespace QuantNative.Tokenization;

public sealed partial class HfTokenizerJson
{
    private readonly bool _usePipeline;
    private readonly Pipeline? _pipeline;

    /// <summary>A SentencePiece-style file the round-trip rules cover: no pre-tokenizer or a lone Metaspace, no NFC.</summary>
    private static bool IsSentencePieceStyle(HfTokenizerJsonSpec spec) =>
        (spec.PreSteps.Count == 0 || spec.Metaspace != null) && !spec.Normalizers.Any(n => n.IsNfc);

    /// <summary>
    /// Hugging Face's encode(text, add_special_tokens): the template's tokens around the text's when
    /// <paramref name="addSpecialTokens"/> (Mistral and llama3-bos: BOS first; Llama 3's older file and Qwen: none).
    /// </summary>
    public int[] EncodeWithSpecialTokens(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!_usePipeline)
            return addSpecialTokens ? [.. _spec.Template.Prefix, .. Encode(text, false), .. _spec.Template.Suffix] : Encode(text, false);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens) ids.AddRange(_spec.Template.Prefix);
        _pipeline!.Encode(text, ids);
        if (addSpecialTokens) ids.AddRange(_spec.Template.Suffix);
        return [.. ids];
    }

    /// <summary>Hugging Face's decode(ids, skip_special_tokens): the file's decoder over the tokens' strings.</summary>
    public string DecodeWithDecoder(ReadOnlySpan<int> ids, bool skipSpecialTokens) =>
        (_pipeline ?? new Pipeline(this, matchAddedTokens: true)).Decode(ids, skipSpecialTokens);

    /// <summary>BOS and EOS for the pipeline: the template, then tokenizer_config.json beside the file, then the
    /// SentencePiece names; -1 where none exists.</summary>
    private (int Bos, int Eos) PipelineSpecialIds(string path)
    {
        var (configBos, configEos, _, hasConfig) = ReadConfig(ConfigPath(path));
        int bos = _spec.Template.FirstSpecialToken is { } first ? Find(first)
            : hasConfig ? (configBos is null ? -1 : Find(configBos))
            : Find("<s>");
        int eos = configEos is { } e ? Find(e)
            : _spec.Template.LastSpecialToken is { } last ? Find(last)
            : Find("</s>");
        return (bos, eos);
    }

    /// <summary>The id of a token by its content (added tokens first), or -1.</summary>
    private int Find(string content)
    {
        foreach (var t in _spec.AddedTokens)
            if (t.Content == content) return t.Id;
        return _spec.Vocab.TryGetValue(content, out int id) ? id : -1;
    }

    /// <summary>The tokenizer_config.json beside a tokenizer.json.</summary>
    private static string ConfigPath(string path) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer_config.json");

    /// <summary>The padding id: tokenizer_config.json's pad_token (Qwen's &lt;|endoftext|&gt;), -1 without one.</summary>
    private int ConfigPadId(string path) => ReadConfig(ConfigPath(path)).Pad is { } pad ? Find(pad) : -1;

    /// <summary>bos_token, eos_token and pad_token of a tokenizer_config.json (a string or {"content": ...}); not an
    /// error when the file is missing or unreadable, as tokenizer.json is complete without it.</summary>
    private static (string? Bos, string? Eos, string? Pad, bool Found) ReadConfig(string configPath)
    {
        if (!File.Exists(configPath)) return (null, null, null, false);
        try
        {
            using var doc = JsonInput.ParseFile(configPath);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return (null, null, null, false);
            return (Token("bos_token"), Token("eos_token"), Token("pad_token"), true);

            string? Token(string name) =>
                !doc.RootElement.TryGetProperty(name, out var v) ? null
                : v.ValueKind == JsonValueKind.String ? v.GetString()
                : v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()
                : null;
        }
        catch (QuantNativeException)
        {
            return (null, null, null, false);
        }
    }

    /// <summary>
    /// Hugging Face's encode for one sequence: added tokens split out of the raw text, the normalizer on each
    /// stretch between them (then added tokens marked normalized split out again), the pre-tokenizers in order, the
    /// BPE model on each piece. Pieces' ids are cached, as tokenizers caches words.
    /// </summary>
    private sealed class Pipeline
    {
        private const int CacheLimit = 1 << 18, CachedPieceMaxLength = 256;

        private readonly HfTokenizerJson _owner;
        private readonly HfTokenizerJsonSpec _spec;
        private readonly AddedTokenSplitter? _raw, _normalized;
        private readonly HashSet<int> _special;
        private readonly HfDecoder _decoder;
        private readonly Dictionary<string, int[]> _cache = new(StringComparer.Ordinal);
        private readonly Lock _cacheLock = new();
        private static readonly PreTokenizerPattern Gpt2 = PreTokenizerPattern.Create(PreTokenizerPattern.Gpt2, "");

        public Pipeline(HfTokenizerJson owner, bool matchAddedTokens)
        {
            _owner = owner;
            _spec = owner._spec;
            if (matchAddedTokens)
            {
                _raw = new AddedTokenSplitter(_spec.AddedTokens.Where(t => !_spec.NormalizedAdded.Contains(t.Id)).Select(t => (t.Content, t.Id)));
                _normalized = new AddedTokenSplitter(_spec.AddedTokens.Where(t => _spec.NormalizedAdded.Contains(t.Id)).Select(t => (t.Content, t.Id)));
            }
            _special = _spec.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();
            _decoder = new HfDecoder(_spec.Decoder);
        }

        public void Encode(string text, List<int> ids)
        {
            text = ReplaceLoneSurrogates(text);
            if (_raw is { IsEmpty: false })
                _raw.Split(text, 0, text.Length, (s, e) => Segment(text[s..e], s == 0, ids), ids.Add);
            else if (text.Length > 0)
                Segment(text, true, ids);
        }

        /// <summary>Normalizes one stretch between raw-matched added tokens and encodes it.</summary>
        private void Segment(string segment, bool atStart, List<int> ids)
        {
            foreach (var step in _spec.Normalizers)
                segment = step.IsNfc ? UnicodeNfc.Normalize(segment)
                    : step.IsPrepend ? (segment.Length > 0 ? step.Text + segment : segment)
                    : segment.Replace(step.Pattern, step.Text, StringComparison.Ordinal);
            if (_normalized is { IsEmpty: false })
                _normalized.Split(segment, 0, segment.Length, (s, e) => PreTokenize(segment[s..e], atStart && s == 0, ids), ids.Add);
            else if (segment.Length > 0)
                PreTokenize(segment, atStart, ids);
        }

        private void PreTokenize(string text, bool atStart, List<int> ids)
        {
            var pieces = new List<string> { text };
            foreach (var step in _spec.PreSteps)
            {
                var next = new List<string>(pieces.Count * 4);
                for (int i = 0; i < pieces.Count; i++)
                {
                    string piece = pieces[i];
                    switch (step)
                    {
                        case HfTokenizerJsonSpec.SplitStep split:
                            Split(piece, split.Pattern, next);
                            break;
                        case HfTokenizerJsonSpec.ByteLevelStep byteLevel:
                            if (byteLevel.AddPrefixSpace && !piece.StartsWith(' ')) piece = " " + piece;
                            if (!byteLevel.UseRegex)
                            {
                                next.Add(ToByteLevel(piece));
                                break;
                            }
                            int mark = next.Count;
                            Split(piece, Gpt2, next);
                            for (int k = mark; k < next.Count; k++) next[k] = ToByteLevel(next[k]);
                            break;
                        case HfTokenizerJsonSpec.MetaspaceStep meta:
                            Metaspace(piece, meta.Spec, first: atStart && i == 0, next);
                            break;
                    }
                }
                pieces = next;
            }
            foreach (string piece in pieces) Bpe(piece, ids);
        }

        private static void Split(string piece, PreTokenizerPattern pattern, List<string> output)
        {
            int pos = 0;
            while (pattern.NextMatch(piece, pos, piece.Length, out int start, out int end))
            {
                if (start > pos) output.Add(piece[pos..start]);
                output.Add(start == 0 && end == piece.Length ? piece : piece[start..end]);
                pos = end;
            }
            if (pos < piece.Length) output.Add(piece[pos..]);
        }

        private static string ToByteLevel(string piece)
        {
            int count = Encoding.UTF8.GetByteCount(piece);
            Span<byte> utf8 = count <= 512 ? stackalloc byte[count] : new byte[count];
            Encoding.UTF8.GetBytes(piece, utf8);
            return string.Create(count, utf8.ToArray(), (chars, bytes) => ByteLevelAlphabet.Map(bytes, chars));
        }

        private static void Metaspace(string piece, HfTokenizerJsonSpec.MetaspaceSpec spec, bool first, List<string> output)
        {
            char mark = spec.Replacement;
            piece = piece.Replace(' ', mark);
            if (spec.Prepend && (first || !spec.PrependFirstOnly) && !piece.StartsWith(mark)) piece = mark + piece;
            if (!spec.Split)
            {
                output.Add(piece);
                return;
            }
            int start = 0;
            for (int i = 1; i <= piece.Length; i++)
                if (i == piece.Length || piece[i] == mark)
                {
                    output.Add(piece[start..i]);
                    start = i;
                }
        }

        private void Bpe(string piece, List<int> ids)
        {
            if (piece.Length == 0) return;
            // Long pieces (a whole text, for a file without a pre-tokenizer) are not worth keeping.
            if (piece.Length > CachedPieceMaxLength)
            {
                _owner._encoder.Encode(piece, ids);
                return;
            }
            int[]? cached;
            lock (_cacheLock) _cache.TryGetValue(piece, out cached);
            if (cached != null)
            {
                ids.AddRange(cached);
                return;
            }
            int mark = ids.Count;
            _owner._encoder.Encode(piece, ids);
            lock (_cacheLock)
                if (_cache.Count < CacheLimit) _cache[piece] = ids.GetRange(mark, ids.Count - mark).ToArray();
        }

        /// <summary>Text from a Rust string has no lone surrogates; they become U+FFFD, as converting to UTF-8 does.</summary>
        private static string ReplaceLoneSurrogates(string text)
        {
            for (int i = 0; i < text.Length; i++)
            {
                if (!char.IsSurrogate(text[i])) continue;
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
                var chars = text.ToCharArray();
                for (int k = i; k < chars.Length; k++)
                {
                    if (!char.IsSurrogate(chars[k])) continue;
                    if (char.IsHighSurrogate(chars[k]) && k + 1 < chars.Length && char.IsLowSurrogate(chars[k + 1])) { k++; continue; }
                    chars[k] = '\uFFFD';
                }
                return new string(chars);
            }
            return text;
        }

        public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens)
        {
            var pieces = _owner._pieces;
            var tokens = new List<string>(ids.Length);
            foreach (int id in ids)
            {
                if ((uint)id >= (uint)pieces.Length)
                    throw new QuantNativeException(
                        $"{_owner.SourcePath}: token id {id} is outside the vocabulary (0..{pieces.Length - 1})");
                if (skipSpecialTokens && _special.Contains(id)) continue;
                tokens.Add(pieces[id]);
            }
            return _decoder.Decode(tokens);
        }
    }
}
