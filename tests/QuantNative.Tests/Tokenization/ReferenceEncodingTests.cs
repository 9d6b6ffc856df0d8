using System.Buffers.Binary;
using System.Diagnostics;
using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>
/// (a) Every tokenizer against the independent reference encoding, and against each other on whole texts.
/// </summary>
public class ReferenceEncodingTests
{
    private static readonly string[] Names = StoriesTokenizers.Names;

    [TestCaseSource(nameof(Names))]
    public void EncodeWithBos_ReproducesReferenceTokens(string name)
    {
        int[] expected = ReferenceData.TinyStoriesFirstTokens();
        // The reference is a prefix of [BOS] + encode(whole text); 16K characters are far more than 256 tokens need,
        // and the whole-file agreement test below covers the rest.
        string text = ReferenceData.TinyStories()[..16_384];
        int[] ids = StoriesTokenizers.Get(name).Encode(text, addBos: true);
        Assert.That(ids.Take(expected.Length), Is.EqualTo(expected));
    }

    [TestCaseSource(nameof(Names))]
    public void VocabularyMatchesTheCheckpoint(string name)
    {
        // llama2.c's header: seven int32, the sixth is vocab_size (negative when the classifier is not shared).
        byte[] header = new byte[28];
        using (var f = File.OpenRead(TestPaths.Stories260K)) f.ReadExactly(header);
        int vocab = Math.Abs(BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(20)));
        var tok = StoriesTokenizers.Get(name);
        Assert.That(tok.VocabSize, Is.EqualTo(vocab));
        Assert.That(Llama2cTokenizer.Load(TestPaths.Tok512, vocab).VocabSize, Is.EqualTo(vocab));
        Assert.That((tok.BosId, tok.EosId), Is.EqualTo((StoriesTokenizers.Reference.BosId, StoriesTokenizers.Reference.EosId)));
    }

    [Test]
    public void AllTokenizersAgreeOnTinyStories() => AssertAgreement(ReferenceData.TinyStories());

    [Test]
    public void AllTokenizersAgreeOnWikiTextHead() => AssertAgreement(ReferenceData.WikiHead());

    private static void AssertAgreement(string text)
    {
        int[] reference = StoriesTokenizers.Reference.Encode(text, addBos: true);
        Assert.That(reference, Has.Length.GreaterThan(text.Length / 8), "the encoding merged far too much");
        foreach (string name in Names)
        {
            var tok = StoriesTokenizers.Get(name);
            int[] ids = tok.Encode(text, addBos: true);
            Assert.That(ids, Is.EqualTo(reference), $"{name} differs from llama2.c");
            Assert.That(tok.Decode(ids), Is.EqualTo(text), $"{name} does not decode back to the text");
        }
    }

    [Test]
    public void Llama2cEncodesTinyStoriesInSeconds()
    {
        var tok = StoriesTokenizers.Reference;
        string text = ReferenceData.TinyStories();
        tok.Encode(text[..10_000], addBos: true); // JIT warm-up
        var sw = Stopwatch.StartNew();
        int[] ids = tok.Encode(text, addBos: true);
        sw.Stop();
        TestContext.Out.WriteLine(
            $"llama2c encoder: {text.Length:N0} characters → {ids.Length:N0} tokens in {sw.Elapsed.TotalMilliseconds:F0} ms");
        // A quadratic encoder takes hours on this text; the bound is loose for slow, shared test machines.
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }
}
