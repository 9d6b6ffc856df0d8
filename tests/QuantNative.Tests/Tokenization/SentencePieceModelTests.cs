using Ml = Microsoft.ML.Tokenizers;
using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>The tokenizer.model writer, checked by Microsoft.ML.Tokenizers' reader, and bad .model files (d).</summary>
public class SentencePieceModelTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.NewTempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void MicrosoftMlReadsTheWrittenModel()
    {
        var tok = StoriesTokenizers.Reference;
        using var stream = File.OpenRead(StoriesTokenizers.ModelPath);
        var ml = Ml.LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        Assert.That(ml.Vocabulary, Has.Count.EqualTo(tok.VocabSize));
        Assert.That((ml.UnknownId, ml.BeginningOfSentenceId, ml.EndOfSentenceId), Is.EqualTo((0, tok.BosId, tok.EosId)));
        Assert.That((ml.ByteFallback, ml.AddDummyPrefix, ml.EscapeWhiteSpaces, ml.TreatWhitespaceAsSuffix),
            Is.EqualTo((true, true, true, false)));
        for (int id = Llama2cTokenizer.MinVocabSize; id < tok.VocabSize; id++)
            Assert.That(ml.Vocabulary[tok.Pieces[id].Replace(' ', '\u2581')], Is.EqualTo(id));
    }

    [Test]
    public void PiecesScoresAndTypesRoundTrip()
    {
        var tok = StoriesTokenizers.Reference;
        var sp = SentencePieceTokenizer.Load(StoriesTokenizers.ModelPath);
        Assert.That(sp.Scores, Is.EqualTo(tok.Scores));
        Assert.That(sp.Kinds, Is.EqualTo(tok.Kinds));
        var expected = tok.Pieces.Select((p, id) => tok.Kinds[id] == PieceKind.Normal ? p.Replace(' ', '\u2581') : null);
        Assert.That(sp.Pieces.Select((p, id) => tok.Kinds[id] == PieceKind.Normal ? p : null), Is.EqualTo(expected));
        Assert.That(sp.Pieces.Take(3), Is.EqualTo(new[] { "<unk>", "<s>", "</s>" }));
    }

    private string WriteModel(byte[] data) => Llama2cFileBuilder.WriteTemp(_dir, "tokenizer.model", data);

    private static void AssertFails(string path, string expected, bool ml = false)
    {
        var e = Assert.Throws<QuantNativeException>(() => SentencePieceTokenizer.Load(path, ml))!;
        Assert.That(e.Message, Does.Contain(path));
        Assert.That(e.Message, Does.Contain(expected).IgnoreCase);
    }

    [Test]
    public void MissingFile() => AssertFails(Path.Combine(_dir, "missing.model"), "not found");

    [Test]
    public void EmptyFile() => AssertFails(WriteModel([]), "no pieces");

    [TestCase(false)]
    [TestCase(true)]
    public void TruncatedFile(bool ml)
    {
        byte[] good = File.ReadAllBytes(StoriesTokenizers.ModelPath);
        foreach (int cut in new[] { 1, 2, 3, 17, good.Length / 2, good.Length - 1 })
            AssertFails(WriteModel(good[..cut]), "malformed protobuf", ml);
    }

    [Test]
    public void GarbageBytes()
    {
        var rng = new Random(5);
        for (int n = 0; n < 20; n++)
        {
            byte[] junk = new byte[rng.Next(1, 300)];
            rng.NextBytes(junk);
            string path = WriteModel(junk);
            var e = Assert.Throws<QuantNativeException>(() => SentencePieceTokenizer.Load(path))!;
            Assert.That(e.Message, Does.Contain(path));
        }
    }

    [Test]
    public void TextFileIsNotAModel() =>
        AssertFails(WriteModel(File.ReadAllBytes(TestPaths.TinyStories)[..4096]), "not a SentencePiece model");

    [Test]
    public void UnigramModelIsRefused()
    {
        byte[] model = File.ReadAllBytes(StoriesTokenizers.ModelPath);
        // Append a second trainer_spec (field 2) saying model_type = UNIGRAM (1): protobuf merges it, last value wins.
        byte[] unigram = [.. model, 0x12, 0x02, 0x18, 0x01];
        AssertFails(WriteModel(unigram), "model type 1");
    }

    [Test]
    public void ModelWithoutByteFallbackIsRefusedByTheExactEncoder()
    {
        byte[] model = File.ReadAllBytes(StoriesTokenizers.ModelPath);
        // trainer_spec.byte_fallback (field 35, varint) = false: tag 35<<3 = 280 = 0x98 0x02.
        byte[] noFallback = [.. model, 0x12, 0x03, 0x98, 0x02, 0x00];
        AssertFails(WriteModel(noFallback), "no byte fallback");
    }
}
