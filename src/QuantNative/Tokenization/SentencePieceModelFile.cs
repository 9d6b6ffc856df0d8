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
        var pieces = new List<string>();
        var scores = new List<float>();
        var kinds = new List<PieceKind>();
        var types = new List<int>();
        int modelType = ModelTypeUnigram, unkId = 0, bosId = 1, eosId = 2, charsmap = 0;
        bool byteFallback = false, addDummyPrefix = true, removeExtra = true, escape = true, suffix = false;
        string normalizerName = "";
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);

        var model = new ProtobufReader(data, context);
        while (model.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1: // repeated SentencePiece pieces
                {
                    var piece = new ProtobufReader(model.ReadBytes(wire), context);
                    string text = "";
                    float score = 0;
                    int type = 1; // NORMAL
                    while (piece.TryReadTag(out int f, out int w))
                    {
                        if (f == 1) text = Utf8(strict, piece.ReadBytes(w), context, pieces.Count);
                        else if (f == 2) score = piece.ReadFloat(w);
                        else if (f == 3) type = piece.ReadInt32(w);
                        else piece.Skip(w);
                    }
                    pieces.Add(text);
                    scores.Add(score);
                    types.Add(type);
                    // USER_DEFINED (4) and UNUSED (5) pieces decode as their text, like NORMAL ones.
                    kinds.Add(type switch { 2 => PieceKind.Unknown, 3 => PieceKind.Control, 6 => PieceKind.Byte, _ => PieceKind.Normal });
                    break;
                }
                case 2: // TrainerSpec
                {
                    var trainer = new ProtobufReader(model.ReadBytes(wire), context);
                    while (trainer.TryReadTag(out int f, out int w))
                    {
                        switch (f)
                        {
                            case 3: modelType = trainer.ReadInt32(w); break;
                            case 35: byteFallback = trainer.ReadBool(w); break;
                            case 40: unkId = trainer.ReadInt32(w); break;
                            case 41: bosId = trainer.ReadInt32(w); break;
                            case 42: eosId = trainer.ReadInt32(w); break;
                            case 24: suffix = trainer.ReadBool(w); break;
                            default: trainer.Skip(w); break;
                        }
                    }
                    break;
                }
                case 3: // NormalizerSpec
                {
                    var normalizer = new ProtobufReader(model.ReadBytes(wire), context);
                    while (normalizer.TryReadTag(out int f, out int w))
                    {
                        switch (f)
                        {
                            case 1: normalizerName = Utf8(strict, normalizer.ReadBytes(w), context, -1); break;
                            case 2: charsmap = normalizer.ReadBytes(w).Length; break;
                            case 3: addDummyPrefix = normalizer.ReadBool(w); break;
                            case 4: removeExtra = normalizer.ReadBool(w); break;
                            case 5: escape = normalizer.ReadBool(w); break;
                            default: normalizer.Skip(w); break;
                        }
                    }
                    break;
                }
                default:
                    model.Skip(wire);
                    break;
            }
        }
        if (pieces.Count == 0)
            throw new QuantNativeException($"{context}: it holds no pieces");
        return new SentencePieceModelFile([.. pieces], [.. scores], [.. kinds], [.. types], modelType, byteFallback, unkId, bosId,
            eosId, normalizerName, charsmap, addDummyPrefix, removeExtra, escape, suffix);
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
