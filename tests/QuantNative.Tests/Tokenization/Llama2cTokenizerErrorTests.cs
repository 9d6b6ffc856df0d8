using System.Buffers.Binary;
using System.Text;
using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>(d) A bad llama2.c tokenizer file is a QuantNativeException that names the file.</summary>
public class Llama2cTokenizerErrorTests
{
    private string _dir = "";
    private byte[] _good = [];
    private int _vocab;

    [SetUp]
    public void SetUp()
    {
        _dir = TestPaths.NewTempDir();
        _good = File.ReadAllBytes(TestPaths.Tok512);
        _vocab = Llama2cTokenizer.Load(TestPaths.Tok512).VocabSize;
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string Write(byte[] data) => Llama2cFileBuilder.WriteTemp(_dir, "tokenizer.bin", data);

    private static void AssertFails(TestDelegate load, string path, string expected)
    {
        var e = Assert.Throws<QuantNativeException>(load)!;
        Assert.That(e.Message, Does.Contain(path));
        Assert.That(e.Message, Does.Contain(expected).IgnoreCase);
    }

    [Test]
    public void TheGoodFileLoads() => Assert.That(Llama2cTokenizer.Load(Write(_good), _vocab).VocabSize, Is.EqualTo(_vocab));

    [Test]
    public void MissingFile()
    {
        string path = Path.Combine(_dir, "nope.bin");
        AssertFails(() => Llama2cTokenizer.Load(path), path, "not found");
    }

    [Test]
    public void TruncatedAnywhere()
    {
        // Every cut (a stride through the file, plus the last byte) is reported when the vocabulary size is known.
        var cuts = Enumerable.Range(0, _good.Length / 37).Select(i => i * 37).Append(_good.Length - 1);
        foreach (int cut in cuts)
        {
            string path = Write(_good[..cut]);
            var e = Assert.Throws<QuantNativeException>(() => Llama2cTokenizer.Load(path, _vocab), $"cut at {cut}")!;
            Assert.That(e.Message, Does.Contain(path));
        }
    }

    [Test]
    public void TruncatedInsideARecordWithoutAVocabSize()
    {
        int record = Llama2cFileBuilder.RecordOffset(_good, 300);
        string path = Write(_good[..(record + 10)]);
        AssertFails(() => Llama2cTokenizer.Load(path), path, "truncated inside token 300");
    }

    [TestCase(-1)]
    [TestCase(int.MinValue)]
    public void NegativeTokenLength(int length)
    {
        byte[] bad = (byte[])_good.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(bad.AsSpan(Llama2cFileBuilder.RecordOffset(bad, 300) + 4), length);
        string path = Write(bad);
        AssertFails(() => Llama2cTokenizer.Load(path), path, $"token 300 has byte length {length}");
    }

    [TestCase(1_000)]
    [TestCase(int.MaxValue)]
    public void TokenLongerThanMaxTokenLength(int length)
    {
        byte[] bad = (byte[])_good.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(bad.AsSpan(Llama2cFileBuilder.RecordOffset(bad, 300) + 4), length);
        string path = Write(bad);
        AssertFails(() => Llama2cTokenizer.Load(path), path, "max_token_length");
    }

    [TestCase(0)]
    [TestCase(-7)]
    [TestCase(int.MaxValue)]
    public void ImpossibleMaxTokenLength(int header)
    {
        byte[] bad = (byte[])_good.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(bad, header);
        string path = Write(bad);
        AssertFails(() => Llama2cTokenizer.Load(path), path, $"max_token_length is {header}");
    }

    [Test]
    public void TooShortForTheHeader()
    {
        string path = Write([1, 2]);
        AssertFails(() => Llama2cTokenizer.Load(path), path, "too short");
    }

    [Test]
    public void VocabSizeLargerThanTheFile()
    {
        string path = Write(_good);
        AssertFails(() => Llama2cTokenizer.Load(path, _vocab + 1), path, "disagree");
    }

    [Test]
    public void VocabSizeSmallerThanTheFile()
    {
        string path = Write(_good);
        AssertFails(() => Llama2cTokenizer.Load(path, _vocab - 1), path, "disagree");
    }

    [Test]
    public void FewerTokensThanTheSpecialsAndBytes()
    {
        string path = Write(_good[..Llama2cFileBuilder.RecordOffset(_good, 100)]);
        AssertFails(() => Llama2cTokenizer.Load(path), path, "at least");
    }

    [Test]
    public void ByteTokenOutOfPlace()
    {
        var pieces = Enumerable.Range(0, _vocab).Select(i => Piece(_good, i)).ToList();
        (pieces[3 + 0x41], pieces[3 + 0x42]) = (pieces[3 + 0x42], pieces[3 + 0x41]);
        string path = Write(Llama2cFileBuilder.Raw(pieces, Enumerable.Repeat(0f, _vocab).ToList()));
        AssertFails(() => Llama2cTokenizer.Load(path), path, "byte-fallback token <0x41>");
    }

    [Test]
    public void NaNScore()
    {
        byte[] bad = (byte[])_good.Clone();
        BinaryPrimitives.WriteSingleLittleEndian(bad.AsSpan(Llama2cFileBuilder.RecordOffset(bad, 400)), float.NaN);
        string path = Write(bad);
        AssertFails(() => Llama2cTokenizer.Load(path), path, "NaN");
    }

    [Test]
    public void InvalidUtf8Piece()
    {
        var pieces = Enumerable.Range(0, _vocab).Select(i => Piece(_good, i)).ToList();
        pieces[400] = [0xC3, 0x28];
        string path = Write(Llama2cFileBuilder.Raw(pieces, Enumerable.Repeat(0f, _vocab).ToList()));
        AssertFails(() => Llama2cTokenizer.Load(path), path, "not valid UTF-8");
    }

    [Test]
    public void WritersRefuseAPieceHoldingTheSpaceMark()
    {
        var normal = new List<string> { "a", "b", "a\u2581b" };
        var tok = Llama2cTokenizer.Load(Write(Llama2cFileBuilder.Build(normal, [0, -1, -2])));
        var e = Assert.Throws<QuantNativeException>(() => SentencePieceModelWriter.ToBytes(tok))!;
        Assert.That(e.Message, Does.Contain(tok.SourcePath).And.Contains("U+2581"));
        Assert.Throws<QuantNativeException>(() => HfTokenizerJsonWriter.ToBytes(tok));
        // llama2.c itself has no such restriction: the mark is an ordinary character there.
        Assert.That(tok.Decode(tok.Encode("a\u2581b", addBos: false)), Is.EqualTo("a\u2581b"));
    }

    private static byte[] Piece(byte[] file, int id)
    {
        int offset = Llama2cFileBuilder.RecordOffset(file, id);
        int length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(offset + 4));
        return file.AsSpan(offset + 8, length).ToArray();
    }

    [Test]
    public void PieceHelperReadsTheRealFile() =>
        Assert.That(Encoding.UTF8.GetString(Piece(_good, 3 + 0x0A)), Is.EqualTo(BytePieces.Name(0x0A)));
}
