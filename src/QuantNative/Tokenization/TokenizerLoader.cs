namespace QuantNative.Tokenization;

/// <summary>
/// Finds and opens the tokenizer for a model: an explicit file (llama2.c .bin, SentencePiece .model or
/// tokenizer.json) or, for a Hugging Face model directory, its tokenizer.model or else its tokenizer.json.
/// A tokenizer.json is read with Hugging Face's semantics (<see cref="TokenizerJsonSemantics.HuggingFace"/>), so its
/// ids are the ones transformers would give.
/// </summary>
public static class TokenizerLoader
{
    public const string SentencePieceFileName = "tokenizer.model";
    public const string TokenizerJsonFileName = "tokenizer.json";

    /// <param name="modelPath">The model's file or directory.</param>
    /// <param name="tokenizerPath">An explicit tokenizer file (the CLI's --tokenizer), or null to look beside the model.</param>
    /// <param name="expectedVocabSize">The model's vocabulary size, when known: a llama2.c tokenizer must hold exactly
    /// that many tokens (its file does not record the count).</param>
    public static ITextTokenizer Load(string modelPath, string? tokenizerPath, int? expectedVocabSize = null)
    {
        if (tokenizerPath != null)
            return LoadFile(tokenizerPath, expectedVocabSize);
        // A GGUF file carries its tokenizer in its metadata.
        if (Formats.Gguf.GgufFile.IsGguf(modelPath))
            return Fitting(Gguf.GgufTokenizer.Load(modelPath), modelPath, expectedVocabSize);

        if (Directory.Exists(modelPath))
        {
            string model = Path.Combine(modelPath, SentencePieceFileName);
            if (File.Exists(model)) return Fitting(SentencePieceTokenizer.Load(model), model, expectedVocabSize);
            string json = Path.Combine(modelPath, TokenizerJsonFileName);
            if (File.Exists(json))
                return Fitting(HfTokenizerJson.Load(json, TokenizerJsonSemantics.HuggingFace), json, expectedVocabSize);
            throw new QuantNativeException(
                $"{modelPath}: no tokenizer found: looked for {SentencePieceFileName} and {TokenizerJsonFileName} in " +
                "this directory; give the tokenizer file with --tokenizer");
        }
        throw new QuantNativeException(
            $"{modelPath}: no tokenizer given: a model file (such as a llama2.c checkpoint) does not carry one, and " +
            $"only a model directory is searched (for {SentencePieceFileName} or {TokenizerJsonFileName}); give the " +
            "tokenizer file with --tokenizer");
    }

    /// <summary>Opens one tokenizer file, choosing the format by extension or, failing that, by its first bytes; with
    /// <paramref name="expectedVocabSize"/>, refuses one whose ids reach past the model's embedding.</summary>
    public static ITextTokenizer LoadFile(string path, int? expectedVocabSize = null) =>
        Fitting(LoadAnyFile(path, expectedVocabSize), path, expectedVocabSize);

    /// <summary>A tokenizer may have fewer ids than the embedding has rows (vocab_size is often padded), never more:
    /// an id past the last row has no embedding, and would otherwise be noticed only when text or generation hits it.</summary>
    private static ITextTokenizer Fitting(ITextTokenizer tokenizer, string path, int? expectedVocabSize)
    {
        if (expectedVocabSize is int vocab && tokenizer.VocabSize > vocab)
            throw new QuantNativeException($"{path}: the tokenizer has {tokenizer.VocabSize} ids, but the model's vocab_size " +
                                           $"is {vocab}: ids {vocab}..{tokenizer.VocabSize - 1} have no embedding; give the " +
                                           "model's own tokenizer");
        return tokenizer;
    }

    private static ITextTokenizer LoadAnyFile(string path, int? expectedVocabSize)
    {
        if (Directory.Exists(path))
            throw new QuantNativeException(
                $"{path}: is a directory; --tokenizer takes a file (tokenizer.bin, {SentencePieceFileName} or {TokenizerJsonFileName})");
        if (!File.Exists(path))
            throw new QuantNativeException($"{path}: tokenizer file not found");
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".bin": return Llama2cTokenizer.Load(path, expectedVocabSize);
            case ".model": return SentencePieceTokenizer.Load(path);
            case ".json": return HfTokenizerJson.Load(path, TokenizerJsonSemantics.HuggingFace);
        }
        return Sniff(path) switch
        {
            Format.Json => HfTokenizerJson.Load(path, TokenizerJsonSemantics.HuggingFace),
            Format.SentencePiece => SentencePieceTokenizer.Load(path),
            Format.Llama2c => Llama2cTokenizer.Load(path, expectedVocabSize),
            _ => throw new QuantNativeException(
                $"{path}: unknown tokenizer format: expected a llama2.c tokenizer .bin, a SentencePiece .model or a " +
                "tokenizer.json"),
        };
    }

    private enum Format { Unknown, Json, SentencePiece, Llama2c }

    /// <summary>
    /// JSON starts with '{' (after whitespace or a byte-order mark). A SentencePiece model starts with field 1 (the
    /// first piece) as a length-delimited field: byte 0x0A, a length, then the piece's first tag. llama2.c starts
    /// with a small positive int32 (max_token_length), little-endian: zero high bytes.
    /// </summary>
    private static Format Sniff(string path)
    {
        Span<byte> head = stackalloc byte[8];
        int n;
        try
        {
            using var f = File.OpenRead(path);
            n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: cannot read the tokenizer file: {e.Message}", e);
        }
        head = head[..n];
        int i = head.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        while (i < head.Length && head[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        if (i < head.Length && head[i] == (byte)'{') return Format.Json;
        // llama2.c first: a max_token_length of 10 also starts with 0x0A, but a piece message is never empty, so a
        // SentencePiece model's third byte (the piece's own first tag) is not zero.
        if (head.Length >= 4 && head[2] == 0 && head[3] == 0 && (head[0] | head[1]) != 0) return Format.Llama2c;
        if (head.Length >= 3 && head[0] == 0x0A) return Format.SentencePiece;
        return Format.Unknown;
    }
}
