using System.Text;
using QuantNative.Formats;
using Ml = Microsoft.ML.Tokenizers;

namespace QuantNative.Tokenization;

/// <summary>
/// A SentencePiece BPE tokenizer.model (LLaMA, Mistral) with this project's <see cref="ITextTokenizer"/> semantics:
/// a dummy-prefix space for non-empty text, BOS only when asked, special tokens never matched inside the text, and
/// Decode(Encode(x)) == x.
///
/// Two encoders are available. The default is this project's exact SentencePiece BPE (<see cref="ScoreBpeEncoder"/>,
/// the same as llama2.c's). Microsoft.ML.Tokenizers (opt-in) gives the same ids except where two candidate merges
/// have equal scores: SentencePiece and llama2.c merge the leftmost pair, ML.Tokenizers 2.0.1 the rightmost (its
/// SymbolPair.CompareTo orders ties by descending position). With LLaMA-style distinct scores that still happens in
/// runs of one repeated piece: " lll" with the piece "ll" is "ll"+"l" in SentencePiece but "l"+"ll" in ML.Tokenizers.
///
/// Both differ from the SentencePiece library in one deliberate way: a U+2581 in the input (SentencePiece's space
/// mark) would be read as a space by it; here it is encoded as its UTF-8 byte tokens, as llama2.c does, so it
/// survives a round trip. The text is cut at each U+2581, the parts are normalized here (prefix, spaces escaped) and
/// encoded without the library's normalizer; byte-fallback tokens never merge, so cutting there changes nothing else.
/// Decoding uses the model's piece types (read from the file; ML.Tokenizers does not expose them).
/// </summary>
public sealed class SentencePieceTokenizer : ITextTokenizer
{
    private const char SpaceMark = SentencePieceModelWriter.SpaceMark;

    private readonly Ml.SentencePieceTokenizer? _ml;
    private readonly ScoreBpeEncoder? _exact;
    private readonly SentencePieceModelFile _model;
    private readonly int[] _spaceMarkIds;
    private readonly PieceDecoder _decoder;

    private SentencePieceTokenizer(string path, Ml.SentencePieceTokenizer? ml, SentencePieceModelFile model)
    {
        SourcePath = path;
        _ml = ml;
        _model = model;
        var byteIds = new Dictionary<byte, int>();
        var byteValues = new byte[model.Pieces.Length];
        var texts = new string[model.Pieces.Length];
        for (int id = 0; id < model.Pieces.Length; id++)
        {
            texts[id] = model.Pieces[id].Replace(SpaceMark, ' ');
            if (model.Kinds[id] != PieceKind.Byte) continue;
            if (!BytePieces.TryParse(model.Pieces[id], out byteValues[id]))
                throw new QuantNativeException(
                    $"{path}: piece {id} (\"{model.Pieces[id]}\") has type BYTE but is not named <0xXX>");
            byteIds.TryAdd(byteValues[id], id);
        }
        if (ml == null)
        {
            // The exact encoder implements what LLaMA's models use: byte fallback for every byte, and no
            // user-defined pieces (matched whole before BPE) or unused ones (re-split after it).
            string? problem = !model.ByteFallback || byteIds.Count != 256
                ? "it has no byte fallback (or lacks some of the 256 byte pieces)"
                : model.Types.Contains(SentencePieceModelFile.TypeUserDefined) ? "it has user-defined pieces"
                : model.Types.Contains(SentencePieceModelFile.TypeUnused) ? "it has unused pieces"
                : null;
            if (problem != null)
                throw new QuantNativeException(
                    $"{path}: the exact SentencePiece encoder does not support this model: {problem} (LLaMA's " +
                    "models need none of these; Microsoft.ML.Tokenizers can be asked to encode instead)");
            var fallback = new int[256];
            for (int b = 0; b < 256; b++) fallback[b] = byteIds[(byte)b];
            _exact = new ScoreBpeEncoder(model.Pieces, model.Scores, model.Kinds, fallback);
        }
        // U+2581 in the text: its byte tokens, or <unk> where the model has no byte fallback.
        _spaceMarkIds = Encoding.UTF8.GetBytes(SpaceMark.ToString())
            .Select(b => model.ByteFallback && byteIds.TryGetValue(b, out int id) ? id : model.UnknownId).ToArray();
        _decoder = new PieceDecoder(texts, model.Kinds, byteValues, path, model.AddDummyPrefix);
    }

    /// <summary>Loads a SentencePiece BPE tokenizer.model.</summary>
    /// <param name="path">The tokenizer.model file.</param>
    /// <param name="encodeWithMicrosoftMl">Encode with Microsoft.ML.Tokenizers instead of the exact SentencePiece
    /// encoder (see the class remarks for where they differ).</param>
    public static SentencePieceTokenizer Load(string path, bool encodeWithMicrosoftMl = false)
    {
        var data = InputFile.ReadAll(path, "SentencePiece model file");

        var model = SentencePieceModelFile.Parse(data, path);
        CheckSupported(model, path);
        if (!encodeWithMicrosoftMl)
            return new SentencePieceTokenizer(path, null, model);
        Ml.SentencePieceTokenizer ml;
        try
        {
            ml = Ml.LlamaTokenizer.Create(new MemoryStream(data), addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new QuantNativeException(
                $"{path}: Microsoft.ML.Tokenizers cannot load this SentencePiece model: {e.Message}", e);
        }
        if (ml.Vocabulary.Count > model.Pieces.Length || ml.BeginningOfSentenceId != model.BosId
            || ml.EndOfSentenceId != model.EosId)
            throw new QuantNativeException(
                $"{path}: Microsoft.ML.Tokenizers reads this model differently ({ml.Vocabulary.Count} pieces, BOS " +
                $"{ml.BeginningOfSentenceId}, EOS {ml.EndOfSentenceId}) than its header says ({model.Pieces.Length} " +
                $"pieces, BOS {model.BosId}, EOS {model.EosId})");
        return new SentencePieceTokenizer(path, ml, model);
    }

    private static void CheckSupported(SentencePieceModelFile model, string path)
    {
        string? problem =
            model.ModelType != SentencePieceModelFile.ModelTypeBpe
                ? $"model type {model.ModelType} (only BPE, type {SentencePieceModelFile.ModelTypeBpe}, as LLaMA uses)"
            : model.PrecompiledCharsmapLength > 0
                ? $"a precompiled normalization map (normalizer \"{model.NormalizerName}\"; only identity is supported)"
            : !model.EscapeWhitespaces ? "escape_whitespaces = false"
            : model.TreatWhitespaceAsSuffix ? "treat_whitespace_as_suffix = true"
            : null;
        if (problem != null)
            throw new QuantNativeException($"{path}: unsupported SentencePiece model: {problem}");
        int n = model.Pieces.Length;
        if ((uint)model.BosId >= (uint)n || (uint)model.EosId >= (uint)n || (uint)model.UnknownId >= (uint)n)
            throw new QuantNativeException(
                $"{path}: the SentencePiece model has {n} pieces but unk/bos/eos ids {model.UnknownId}/{model.BosId}/" +
                $"{model.EosId}; LLaMA models need all three");
    }

    /// <summary>The file this tokenizer came from (used in messages).</summary>
    public string SourcePath { get; }

    /// <summary>Whether Microsoft.ML.Tokenizers encodes (rather than the exact SentencePiece encoder).</summary>
    public bool EncodesWithMicrosoftMl => _ml != null;

    public int VocabSize => _model.Pieces.Length;
    public int BosId => _model.BosId;
    public int EosId => _model.EosId;

    /// <summary>LLaMA's convention for these vocabularies: every sequence starts with BOS.</summary>
    public bool AddsBos => true;

    /// <summary>The pieces as the model spells them (U+2581 for spaces).</summary>
    public IReadOnlyList<string> Pieces => _model.Pieces;
    public IReadOnlyList<float> Scores => _model.Scores;
    public IReadOnlyList<PieceKind> Kinds => _model.Kinds;

    public int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 2 + 2);
        if (addBos) ids.Add(BosId);
        string normalized = _model.RemoveExtraWhitespaces ? RemoveExtraSpaces(text) : text;
        if (normalized.Length == 0) return [.. ids];

        var part = new StringBuilder();
        int start = 0;
        while (true)
        {
            int mark = normalized.IndexOf(SpaceMark, start);
            int end = mark < 0 ? normalized.Length : mark;
            part.Clear();
            if (start == 0 && _model.AddDummyPrefix) part.Append(SpaceMark);
            part.Append(normalized, start, end - start).Replace(' ', SpaceMark);
            if (part.Length > 0 && _exact != null)
                _exact.Encode(part.ToString(), ids);
            else if (part.Length > 0)
                ids.AddRange(_ml!.EncodeToIds(part.ToString(), addBeginningOfSentence: false, addEndOfSentence: false,
                    considerPreTokenization: false, considerNormalization: false));
            if (mark < 0) break;
            ids.AddRange(_spaceMarkIds);
            start = mark + 1;
        }
        return [.. ids];
    }

    public string Decode(ReadOnlySpan<int> ids) => _decoder.Decode(ids);

    /// <summary>SentencePiece's remove_extra_whitespaces: no leading or trailing spaces, runs of spaces become one.</summary>
    private static string RemoveExtraSpaces(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
            if (c != ' ' || (sb.Length > 0 && sb[^1] != ' '))
                sb.Append(c);
        if (sb.Length > 0 && sb[^1] == ' ') sb.Length--;
        return sb.ToString();
    }
}
