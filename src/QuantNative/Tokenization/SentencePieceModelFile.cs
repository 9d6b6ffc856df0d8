using System.Text;

namespace QuantNative.Tokenization;

/// <summary>
/// The parts of a SentencePiece tokenizer.model (sentencepiece.ModelProto) this project relies on: the pieces with
/// their scores and types, the trainer's model type, byte fallback and special ids, and the normalizer flags.
/// Read here, before Microsoft.ML.Tokenizers sees the file, so that a bad or unsupported file gets a message that
/// names it, and because the piece types (which ML.Tokenizers does not expose) decide how ids decode.
/// Unset fields take sentencepiece_model.proto's defaults.
/// </summary>
internal sealed record SentencePieceModelFile(
    string[] Pieces,
    float[] Scores,
    PieceKind[] Kinds,
    int[] Types,
    int ModelType,
    bool ByteFallback,
    int UnknownId,
    int BosId,
    int EosId,
    string NormalizerName,
    int PrecompiledCharsmapLength,
    bool AddDummyPrefix,
    bool RemoveExtraWhitespaces,
    bool EscapeWhitespaces,
    bool TreatWhitespaceAsSuffix)
{
    public const int ModelTypeUnigram = 1, ModelTypeBpe = 2;
    public const int TypeUserDefined = 4, TypeUnused = 5;

    public static SentencePieceModelFile Parse(ReadOnlySpan<byte> data, string path)
    {
        string context = $"{path}: not a SentencePiece model";
        var pieces = new PieceLists();
        var trainer = new TrainerFields();
        var normalizer = new NormalizerFields();
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);

        var model = new ProtobufReader(data, context);
        while (model.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1: ReadPiece(model.ReadBytes(wire), pieces, strict, context); break; // repeated SentencePiece pieces
                case 2: ReadTrainerSpec(model.ReadBytes(wire), ref trainer, context); break;
                case 3: ReadNormalizerSpec(model.ReadBytes(wire), ref normalizer, strict, context); break;
                default: model.Skip(wire); break;
            }
        }
        if (pieces.Texts.Count == 0)
            throw new QuantNativeException($"{context}: it holds no pieces");
        return new SentencePieceModelFile([.. pieces.Texts], [.. pieces.Scores], [.. pieces.Kinds], [.. pieces.Types],
            trainer.ModelType, trainer.ByteFallback, trainer.UnknownId, trainer.BosId, trainer.EosId, normalizer.Name,
            normalizer.CharsmapLength, normalizer.AddDummyPrefix, normalizer.RemoveExtraWhitespaces,
            normalizer.EscapeWhitespaces, trainer.TreatWhitespaceAsSuffix);
    }

    /// <summary>The pieces read so far, in id order.</summary>
    private sealed class PieceLists
    {
        public List<string> Texts { get; } = [];
        public List<float> Scores { get; } = [];
        public List<PieceKind> Kinds { get; } = [];
        public List<int> Types { get; } = [];
    }

    /// <summary>The TrainerSpec fields this project reads, at sentencepiece_model.proto's defaults until set (a
    /// later TrainerSpec message overrides only the fields it sets, as protobuf merges them).</summary>
    private struct TrainerFields()
    {
        public int ModelType = ModelTypeUnigram, UnknownId = 0, BosId = 1, EosId = 2;
        public bool ByteFallback = false, TreatWhitespaceAsSuffix = false;
    }

    /// <summary>The NormalizerSpec fields this project reads, at their defaults until set.</summary>
    private struct NormalizerFields()
    {
        public string Name = "";
        public int CharsmapLength = 0;
        public bool AddDummyPrefix = true, RemoveExtraWhitespaces = true, EscapeWhitespaces = true;
    }

    /// <summary>One SentencePiece message: text (1), score (2), type (3, NORMAL when unset).</summary>
    private static void ReadPiece(ReadOnlySpan<byte> bytes, PieceLists pieces, UTF8Encoding strict, string context)
    {
        var piece = new ProtobufReader(bytes, context);
        string text = "";
        float score = 0;
        int type = 1; // NORMAL
        while (piece.TryReadTag(out int f, out int w))
        {
            if (f == 1) text = Utf8(strict, piece.ReadBytes(w), context, pieces.Texts.Count);
            else if (f == 2) score = piece.ReadFloat(w);
            else if (f == 3) type = piece.ReadInt32(w);
            else piece.Skip(w);
        }
        pieces.Texts.Add(text);
        pieces.Scores.Add(score);
        pieces.Types.Add(type);
        // USER_DEFINED (4) and UNUSED (5) pieces decode as their text, like NORMAL ones.
        pieces.Kinds.Add(type switch { 2 => PieceKind.Unknown, 3 => PieceKind.Control, 6 => PieceKind.Byte, _ => PieceKind.Normal });
    }

    private static void ReadTrainerSpec(ReadOnlySpan<byte> bytes, ref TrainerFields t, string context)
    {
        var trainer = new ProtobufReader(bytes, context);
        while (trainer.TryReadTag(out int f, out int w))
        {
            switch (f)
            {
                case 3: t.ModelType = trainer.ReadInt32(w); break;
                case 35: t.ByteFallback = trainer.ReadBool(w); break;
                case 40: t.UnknownId = trainer.ReadInt32(w); break;
                case 41: t.BosId = trainer.ReadInt32(w); break;
                case 42: t.EosId = trainer.ReadInt32(w); break;
                case 24: t.TreatWhitespaceAsSuffix = trainer.ReadBool(w); break;
                default: trainer.Skip(w); break;
            }
        }
    }

    private static void ReadNormalizerSpec(ReadOnlySpan<byte> bytes, ref NormalizerFields n, UTF8Encoding strict, string context)
    {
        var normalizer = new ProtobufReader(bytes, context);
        while (normalizer.TryReadTag(out int f, out int w))
        {
            switch (f)
            {
                case 1: n.Name = Utf8(strict, normalizer.ReadBytes(w), context, -1); break;
                case 2: n.CharsmapLength = normalizer.ReadBytes(w).Length; break;
                case 3: n.AddDummyPrefix = normalizer.ReadBool(w); break;
                case 4: n.RemoveExtraWhitespaces = normalizer.ReadBool(w); break;
                case 5: n.EscapeWhitespaces = normalizer.ReadBool(w); break;
                default: normalizer.Skip(w); break;
            }
        }
    }

    private static string Utf8(UTF8Encoding strict, ReadOnlySpan<byte> bytes, string context, int piece)
    {
        try
        {
            return strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new QuantNativeException(
                $"{context}: {(piece >= 0 ? $"piece {piece}" : "a string")} is not valid UTF-8", e);
        }
    }
}
