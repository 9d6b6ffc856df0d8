using System.Buffers.Binary;
using System.Text;
using QuantNative.Formats;

namespace QuantNative.Tokenization;

/// <summary>
/// Reads llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 byte length and the
/// UTF-8 bytes, all little-endian. The file does not store the vocabulary size (llama2.c takes it from the
/// checkpoint), so without an expected size every record up to the end of the file is read.
/// </summary>
internal static class Llama2cTokenizerFile
{
    /// <summary>Anything longer is not a token length but a corrupt or foreign file.</summary>
    private const int MaxSaneTokenLength = 1 << 16;

    public sealed record Contents(int MaxTokenLength, string[] Pieces, float[] Scores);

    public static Contents Read(string path, int? expectedVocabSize)
    {
        var data = InputFile.ReadAll(path, "llama2.c tokenizer file");
        return Parse(data, path, expectedVocabSize);
    }

    public static Contents Parse(ReadOnlySpan<byte> data, string path, int? expectedVocabSize)
    {
        if (expectedVocabSize is <= 0)
            throw new ArgumentOutOfRangeException(nameof(expectedVocabSize), expectedVocabSize, "must be positive");
        string what = $"{path}: not a llama2.c tokenizer file";
        if (data.Length < 4)
            throw new QuantNativeException($"{what}: {data.Length} bytes is too short for the max_token_length header");
        int maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxTokenLength <= 0 || maxTokenLength > MaxSaneTokenLength)
            throw new QuantNativeException(
                $"{what}: max_token_length is {maxTokenLength}, expected 1..{MaxSaneTokenLength}");

        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        var pieces = new List<string>(expectedVocabSize ?? 512);
        var scores = new List<float>(expectedVocabSize ?? 512);
        int offset = 4;
        while (expectedVocabSize is { } n ? pieces.Count < n : offset < data.Length)
        {
            int id = pieces.Count;
            if (data.Length - offset < 8)
                throw Truncated(path, id, offset, expectedVocabSize);
            float score = BinaryPrimitives.ReadSingleLittleEndian(data[offset..]);
            int length = BinaryPrimitives.ReadInt32LittleEndian(data[(offset + 4)..]);
            offset += 8;
            if (float.IsNaN(score))
                throw new QuantNativeException($"{what}: token {id} has a NaN score");
            if (length < 0 || length > maxTokenLength)
                throw new QuantNativeException(
                    $"{what}: token {id} has byte length {length}, expected 0..{maxTokenLength} (max_token_length)");
            if (data.Length - offset < length)
                throw Truncated(path, id, offset, expectedVocabSize);
            try
            {
                pieces.Add(strict.GetString(data.Slice(offset, length)));
            }
            catch (DecoderFallbackException e)
            {
                throw new QuantNativeException($"{what}: token {id} is not valid UTF-8", e);
            }
            scores.Add(score);
            offset += length;
        }
        if (offset != data.Length)
            throw new QuantNativeException(
                $"{path}: the llama2.c tokenizer has more than the expected {expectedVocabSize} tokens " +
                $"({data.Length - offset} bytes follow token {expectedVocabSize - 1}); the vocabulary sizes of " +
                "the tokenizer and the model disagree");
        return new Contents(maxTokenLength, [.. pieces], [.. scores]);
    }

    private static QuantNativeException Truncated(string path, int id, int offset, int? expectedVocabSize) =>
        new($"{path}: llama2.c tokenizer file is truncated inside token {id} (at byte {offset})" +
            (expectedVocabSize is { } n ? $"; expected {n} tokens — the vocabulary sizes of the tokenizer and the model may disagree" : ""));
}
