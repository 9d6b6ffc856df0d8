using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>
/// stories260K's llama2.c tokenizer and the two files written from it (tokenizer.model — encoded both by the exact
/// encoder and by Microsoft.ML.Tokenizers — and tokenizer.json), each loaded once per test run; the files live in a
/// temporary directory that <see cref="TokenizationSetUp"/> removes.
/// </summary>
internal static class StoriesTokenizers
{
    public const string Llama2c = "llama2c", SentencePiece = "sentencepiece", SentencePieceMl = "sentencepiece-ml",
        TokenizerJson = "tokenizer.json";
    public static readonly string[] Names = [Llama2c, SentencePiece, SentencePieceMl, TokenizerJson];

    private static readonly Lazy<string> Dir = new(TestPaths.NewTempDir);
    private static readonly Lazy<Llama2cTokenizer> Tok512 = new(() => Llama2cTokenizer.Load(TestPaths.Tok512));
    private static readonly Lazy<SentencePieceTokenizer> Sp = new(() =>
    {
        string path = Path.Combine(Dir.Value, "tokenizer.model");
        SentencePieceModelWriter.Write(Tok512.Value, path);
        return SentencePieceTokenizer.Load(path);
    });
    private static readonly Lazy<SentencePieceTokenizer> SpMl = new(() =>
        SentencePieceTokenizer.Load(Sp.Value.SourcePath, encodeWithMicrosoftMl: true));
    private static readonly Lazy<HfTokenizerJson> Hf = new(() =>
    {
        string path = Path.Combine(Dir.Value, "tokenizer.json");
        HfTokenizerJsonWriter.Write(Tok512.Value, path);
        return HfTokenizerJson.Load(path);
    });

    public static Llama2cTokenizer Reference => Tok512.Value;
    public static string ModelPath => Sp.Value.SourcePath;
    public static string JsonPath => Hf.Value.SourcePath;

    public static ITextTokenizer Get(string name) => name switch
    {
        Llama2c => Tok512.Value,
        SentencePiece => Sp.Value,
        SentencePieceMl => SpMl.Value,
        TokenizerJson => Hf.Value,
        _ => throw new ArgumentException(name),
    };

    public static void DeleteFiles()
    {
        if (Dir.IsValueCreated && Directory.Exists(Dir.Value))
            Directory.Delete(Dir.Value, recursive: true);
    }
}

[SetUpFixture]
public class TokenizationSetUp
{
    [OneTimeTearDown]
    public void DeleteTemporaryFiles() => StoriesTokenizers.DeleteFiles();
}
