using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>Which tokenizer TokenizerLoader picks, and what it says when it finds none.</summary>
public class TokenizerLoaderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.NewTempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string Copy(string source, string name)
    {
        string path = Path.Combine(_dir, name);
        File.Copy(source, path);
        return path;
    }

    /// <summary>A tokenizer with more ids than the model's embedding has rows is refused when it is loaded, naming the
    /// file and both sizes; fewer (a padded vocab_size, as Qwen's 151936 for 151669 ids) is fine.</summary>
    [Test]
    public void ATokenizerLargerThanTheModelsVocabularyIsRefused()
    {
        string qwen = Path.Combine(TestPaths.Shared, "tokenizers", "qwen", "tokenizer.json");
        var e = Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(TestPaths.Stories260K, qwen, 512));
        Assert.That(e!.Message, Does.StartWith(qwen).And.Contain("151669 ids").And.Contain("vocab_size is 512"));
        string dir = Path.Combine(_dir, "model");
        Directory.CreateDirectory(dir);
        File.Copy(qwen, Path.Combine(dir, TokenizerLoader.TokenizerJsonFileName));
        Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(dir, null, 151000));
        Assert.That(TokenizerLoader.Load(dir, null, 151936).VocabSize, Is.EqualTo(151669));
    }

    [Test]
    public void ExplicitFileByExtension()
    {
        Assert.That(TokenizerLoader.Load(TestPaths.Stories260K, TestPaths.Tok512), Is.TypeOf<Llama2cTokenizer>());
        Assert.That(TokenizerLoader.Load(_dir, StoriesTokenizers.ModelPath), Is.TypeOf<SentencePieceTokenizer>());
        Assert.That(TokenizerLoader.Load(_dir, StoriesTokenizers.JsonPath), Is.TypeOf<HfTokenizerJson>());
    }

    [Test]
    public void ExplicitFileByContent()
    {
        Assert.That(TokenizerLoader.Load(_dir, Copy(TestPaths.Tok512, "tok512")), Is.TypeOf<Llama2cTokenizer>());
        Assert.That(TokenizerLoader.Load(_dir, Copy(StoriesTokenizers.ModelPath, "spm.dat")), Is.TypeOf<SentencePieceTokenizer>());
        Assert.That(TokenizerLoader.Load(_dir, Copy(StoriesTokenizers.JsonPath, "tok.txt")), Is.TypeOf<HfTokenizerJson>());
        string text = Copy(TestPaths.TinyStories, "story.dat");
        var e = Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(_dir, text))!;
        Assert.That(e.Message, Does.Contain(text).And.Contains("unknown tokenizer format"));
    }

    [Test]
    public void Llama2cFileWithMaxTokenLengthTenIsNotTakenForSentencePiece()
    {
        // 10 is 0x0A, the first byte of every SentencePiece model.
        var normal = new List<string> { "a", "b", "abababab", "ab", "abab", "ababababab" };
        string path = Llama2cFileBuilder.WriteTemp(_dir, "ten", Llama2cFileBuilder.Build(normal, [0, -1, -2, -3, -4, -5]));
        Assert.That(File.ReadAllBytes(path)[0], Is.EqualTo(0x0A));
        Assert.That(TokenizerLoader.Load(_dir, path), Is.TypeOf<Llama2cTokenizer>());
    }

    [Test]
    public void ExplicitLlama2cFileChecksTheVocabSize()
    {
        int vocab = StoriesTokenizers.Reference.VocabSize;
        Assert.That(TokenizerLoader.Load(TestPaths.Stories260K, TestPaths.Tok512, vocab).VocabSize, Is.EqualTo(vocab));
        Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(TestPaths.Stories260K, TestPaths.Tok512, vocab + 1));
    }

    [Test]
    public void DirectoryPrefersTokenizerModel()
    {
        Copy(StoriesTokenizers.JsonPath, TokenizerLoader.TokenizerJsonFileName);
        Assert.That(TokenizerLoader.Load(_dir, null), Is.TypeOf<HfTokenizerJson>());
        Copy(StoriesTokenizers.ModelPath, TokenizerLoader.SentencePieceFileName);
        Assert.That(TokenizerLoader.Load(_dir, null), Is.TypeOf<SentencePieceTokenizer>());
    }

    [Test]
    public void DirectoryWithoutTokenizer()
    {
        var e = Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(_dir, null))!;
        Assert.That(e.Message, Does.Contain(_dir).And.Contains("tokenizer.model").And.Contains("tokenizer.json")
            .And.Contains("--tokenizer"));
    }

    [Test]
    public void ModelFileWithoutTokenizer()
    {
        var e = Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(TestPaths.Stories260K, null))!;
        Assert.That(e.Message, Does.Contain(TestPaths.Stories260K).And.Contains("--tokenizer"));
    }

    [Test]
    public void ExplicitFileMissingOrADirectory()
    {
        string missing = Path.Combine(_dir, "tokenizer.bin");
        var e = Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(_dir, missing))!;
        Assert.That(e.Message, Does.Contain(missing).And.Contains("not found"));
        e = Assert.Throws<QuantNativeException>(() => TokenizerLoader.Load(_dir, _dir))!;
        Assert.That(e.Message, Does.Contain(_dir).And.Contains("directory"));
    }
}
