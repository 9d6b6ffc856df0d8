namespace QuantNative.Tokenization;

/// <summary>
/// llama2.c's tokenizer (tokenizer.bin / tok512.bin): a SentencePiece BPE vocabulary with byte fallback.
/// Ids: 0 &lt;unk&gt;, 1 BOS, 2 EOS, 3..258 the byte-fallback tokens &lt;0x00&gt;..&lt;0xFF&gt;, then the merged
/// pieces. Pieces are stored with real spaces (SentencePiece's U+2581 already replaced).
/// </summary>
public sealed class Llama2cTokenizer : ITextTokenizer
{
    public const int UnknownId = 0;
    public const int FirstByteId = 3;
    /// <summary>Specials and the 256 byte tokens come first; a vocabulary must at least hold them.</summary>
    public const int MinVocabSize = FirstByteId + 256;

    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly PieceKind[] _kinds;
    private readonly ScoreBpeEncoder _encoder;
    private readonly PieceDecoder _decoder;

    private Llama2cTokenizer(string sourcePath, int maxTokenLength, string[] pieces, float[] scores)
    {
        SourcePath = sourcePath;
        MaxTokenLength = maxTokenLength;
        _pieces = pieces;
        _scores = scores;
        if (pieces.Length < MinVocabSize)
            throw new QuantNativeException(
                $"{sourcePath}: the llama2.c tokenizer has {pieces.Length} tokens; expected at least {MinVocabSize} " +
                "(<unk>, BOS, EOS and 256 byte tokens)");
        _kinds = new PieceKind[pieces.Length];
        var byteValues = new byte[pieces.Length];
        var byteIds = new int[256];
        _kinds[UnknownId] = PieceKind.Unknown;
        _kinds[BosId] = _kinds[EosId] = PieceKind.Control;
        for (int b = 0; b < 256; b++)
        {
            int id = FirstByteId + b;
            if (!BytePieces.TryParse(pieces[id], out byte value) || value != b)
                throw new QuantNativeException(
                    $"{sourcePath}: token {id} is \"{pieces[id]}\"; expected the byte-fallback token {BytePieces.Name((byte)b)}");
            _kinds[id] = PieceKind.Byte;
            byteValues[id] = value;
            byteIds[b] = id;
        }
        // The rest are Normal (the zero-filled default).
        _encoder = new ScoreBpeEncoder(pieces, scores, _kinds, byteIds);
        _decoder = new PieceDecoder(pieces, _kinds, byteValues, sourcePath);
    }

    /// <summary>Reads a llama2.c tokenizer file.</summary>
    /// <param name="path">The tokenizer .bin file.</param>
    /// <param name="expectedVocabSize">The model's vocabulary size; when given, the file must hold exactly that many
    /// tokens. When null, every token up to the end of the file is read.</param>
    public static Llama2cTokenizer Load(string path, int? expectedVocabSize = null)
    {
        var c = Llama2cTokenizerFile.Read(path, expectedVocabSize);
        return new Llama2cTokenizer(path, c.MaxTokenLength, c.Pieces, c.Scores);
    }

    /// <summary>The file this tokenizer came from (used in messages).</summary>
    public string SourcePath { get; }

    /// <summary>The header's max_token_length: no piece is longer, in UTF-8 bytes.</summary>
    public int MaxTokenLength { get; }

    public int VocabSize => _pieces.Length;
    public int BosId => 1;
    public int EosId => 2;

    /// <summary>LLaMA's convention for these vocabularies: every sequence starts with BOS.</summary>
    public bool AddsBos => true;

    /// <summary>The pieces as stored (real spaces; BOS/EOS as llama2.c writes them, e.g. "\n&lt;s&gt;\n").</summary>
    public IReadOnlyList<string> Pieces => _pieces;

    /// <summary>The merge scores: higher merges first.</summary>
    public IReadOnlyList<float> Scores => _scores;

    /// <summary>What each id is: Unknown (0), Control (BOS, EOS), Byte (3..258) or Normal.</summary>
    public IReadOnlyList<PieceKind> Kinds => _kinds;

    public int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 2 + 2);
        if (addBos) ids.Add(BosId);
        // SentencePiece's dummy prefix: the first word looks like every other word (" the", not "the").
        if (text.Length > 0) _encoder.Encode(" " + text, ids);
        return [.. ids];
    }

    public string Decode(ReadOnlySpan<int> ids) => _decoder.Decode(ids);
}
