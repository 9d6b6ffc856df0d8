namespace QuantNative.Tokenization;

/// <summary>
/// Writes a SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) equivalent to a llama2.c
/// tokenizer: a BPE model with byte fallback, ids 0 &lt;unk&gt; / 1 &lt;s&gt; / 2 &lt;/s&gt;, and an identity normalizer that
/// adds the dummy prefix and escapes spaces as U+2581 (so pieces store U+2581 where llama2.c stores a space).
/// Field numbers are those of sentencepiece_model.proto.
/// </summary>
public static class SentencePieceModelWriter
{
    // ModelProto
    private const int ModelPieces = 1, ModelTrainerSpec = 2, ModelNormalizerSpec = 3;
    // ModelProto.SentencePiece
    private const int PieceText = 1, PieceScore = 2, PieceType = 3;
    // ModelProto.SentencePiece.Type
    private const int TypeNormal = 1, TypeUnknown = 2, TypeControl = 3, TypeByte = 6;
    // TrainerSpec
    private const int TrainerModelType = 3, TrainerVocabSize = 4, TrainerByteFallback = 35,
        TrainerUnkId = 40, TrainerBosId = 41, TrainerEosId = 42, TrainerPadId = 43;
    private const int ModelTypeBpe = 2;
    // NormalizerSpec
    private const int NormName = 1, NormAddDummyPrefix = 3, NormRemoveExtraWhitespaces = 4, NormEscapeWhitespaces = 5;

    /// <summary>The SentencePiece names of the special tokens (llama2.c writes BOS/EOS as "\n&lt;s&gt;\n" etc.).</summary>
    public const string UnknownPiece = "<unk>", BosPiece = "<s>", EosPiece = "</s>";

    /// <summary>SentencePiece's stand-in for a space inside pieces.</summary>
    public const char SpaceMark = '\u2581';

    public static void Write(Llama2cTokenizer tokenizer, string path)
    {
        byte[] bytes = ToBytes(tokenizer);
        try
        {
            File.WriteAllBytes(path, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: cannot write the SentencePiece model: {e.Message}", e);
        }
    }

    public static byte[] ToBytes(Llama2cTokenizer tokenizer)
    {
        string[] pieces = SentencePiecePieces(tokenizer);
        var model = new ProtobufWriter();
        for (int id = 0; id < pieces.Length; id++)
        {
            var piece = new ProtobufWriter();
            piece.WriteString(PieceText, pieces[id]);
            piece.WriteFloat(PieceScore, tokenizer.Scores[id]);
            piece.WriteInt32(PieceType, tokenizer.Kinds[id] switch
            {
                PieceKind.Unknown => TypeUnknown,
                PieceKind.Control => TypeControl,
                PieceKind.Byte => TypeByte,
                _ => TypeNormal,
            });
            model.WriteMessage(ModelPieces, piece);
        }

        var trainer = new ProtobufWriter();
        trainer.WriteInt32(TrainerModelType, ModelTypeBpe);
        trainer.WriteInt32(TrainerVocabSize, pieces.Length);
        trainer.WriteBool(TrainerByteFallback, true);
        trainer.WriteInt32(TrainerUnkId, Llama2cTokenizer.UnknownId);
        trainer.WriteInt32(TrainerBosId, tokenizer.BosId);
        trainer.WriteInt32(TrainerEosId, tokenizer.EosId);
        trainer.WriteInt32(TrainerPadId, -1);
        model.WriteMessage(ModelTrainerSpec, trainer);

        var normalizer = new ProtobufWriter();
        normalizer.WriteString(NormName, "identity");
        normalizer.WriteBool(NormAddDummyPrefix, true);
        normalizer.WriteBool(NormRemoveExtraWhitespaces, false);
        normalizer.WriteBool(NormEscapeWhitespaces, true);
        model.WriteMessage(ModelNormalizerSpec, normalizer);
        return model.ToArray();
    }

    /// <summary>
    /// The pieces in SentencePiece's spelling (specials renamed, spaces as U+2581). Throws when the vocabulary cannot
    /// be expressed: SentencePiece rejects empty and duplicate pieces, and a piece that already holds U+2581 would be
    /// read back as a space.
    /// </summary>
    internal static string[] SentencePiecePieces(Llama2cTokenizer tokenizer)
    {
        var pieces = new string[tokenizer.VocabSize];
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < pieces.Length; id++)
        {
            string original = tokenizer.Pieces[id];
            pieces[id] = id switch
            {
                Llama2cTokenizer.UnknownId => UnknownPiece,
                1 => BosPiece,
                2 => EosPiece,
                _ => original.Replace(' ', SpaceMark),
            };
            string Problem(string why) =>
                $"{tokenizer.SourcePath}: token {id} (\"{original}\") cannot be written as a SentencePiece piece: {why}";
            if (tokenizer.Kinds[id] == PieceKind.Normal && original.Contains(SpaceMark))
                throw new QuantNativeException(Problem("it contains U+2581, which SentencePiece reserves for spaces"));
            if (pieces[id].Length == 0)
                throw new QuantNativeException(Problem("it is empty"));
            if (!seen.TryAdd(pieces[id], id))
                throw new QuantNativeException(Problem($"it duplicates token {seen[pieces[id]]}"));
        }
        return pieces;
    }
}
