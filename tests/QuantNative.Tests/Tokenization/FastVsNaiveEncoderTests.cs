using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>(c) The linked-list + priority-queue encoder gives exactly the naive greedy algorithm's result.</summary>
public class FastVsNaiveEncoderTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestPaths.NewTempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Tok512_RandomStringsOfItsOwnPieces()
    {
        var tok = StoriesTokenizers.Reference;
        // Strings glued from the vocabulary's own pieces (and a few foreign characters) merge a lot.
        var alphabet = tok.Pieces.Where((p, id) => tok.Kinds[id] == PieceKind.Normal)
            .Concat(["é", "😀", "\n", "\u2581", "  "]).ToList();
        var rng = new Random(42);
        for (int n = 0; n < 400; n++)
            AssertSame(tok, RandomText.From(rng, alphabet, rng.Next(0, 60)));
    }

    [Test]
    public void Tok512_RandomUnicode()
    {
        var rng = new Random(7);
        for (int n = 0; n < 300; n++)
            AssertSame(StoriesTokenizers.Reference, RandomText.Unicode(rng, rng.Next(0, 100)));
    }

    [Test]
    public void Tok512_TinyStoriesParagraphs()
    {
        string[] paragraphs = ReferenceData.TinyStories()[..20_000].Split("\n\n");
        foreach (string p in paragraphs)
            AssertSame(StoriesTokenizers.Reference, p);
    }

    /// <summary>
    /// A made-up vocabulary over a tiny alphabet with only four distinct scores, so that equal-score pairs compete
    /// constantly and the leftmost-on-ties rule decides. Many overlapping pieces make merge order matter.
    /// </summary>
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void SyntheticVocabularyWithTiedScores(int seed)
    {
        var tok = SyntheticVocabulary(seed, _dir);
        int merged = 0;
        foreach (string text in TiedTexts(seed))
        {
            int[] ids = AssertSame(tok, text);
            merged += ids.Count(id => tok.Pieces[id].Length > 1 && tok.Kinds[id] == PieceKind.Normal);
        }
        Assert.That(merged, Is.GreaterThan(500), "the synthetic vocabulary hardly merged: the test would prove little");
    }

    /// <summary>SentencePiece's own tie rule is also leftmost-first: its exact encoder must agree with llama2.c.</summary>
    [TestCase(1)]
    [TestCase(2)]
    public void SentencePieceAgreesOnTiedScores(int seed)
    {
        var (tok, sp) = SyntheticPair(seed, encodeWithMicrosoftMl: false);
        foreach (string text in TiedTexts(seed))
            Assert.That(sp.Encode(text, addBos: false), Is.EqualTo(tok.Encode(text, addBos: false)), text);
    }

    /// <summary>
    /// Where Microsoft.ML.Tokenizers differs: it is the same greedy algorithm but merges the rightmost of equally
    /// scored pairs. This pins that claim (and fails, as a signal, if a later version fixes it).
    /// </summary>
    [TestCase(1)]
    [TestCase(2)]
    public void MicrosoftMlMergesTheRightmostOfTiedPairs(int seed)
    {
        var (tok, ml) = SyntheticPair(seed, encodeWithMicrosoftMl: true);
        int differ = 0;
        foreach (string text in TiedTexts(seed))
        {
            int[] ids = ml.Encode(text, addBos: false);
            Assert.That(ids, Is.EqualTo(NaiveBpe.Encode(tok, text, addBos: false, rightmostTies: true)), text);
            if (!ids.SequenceEqual(tok.Encode(text, addBos: false))) differ++;
        }
        Assert.That(differ, Is.GreaterThan(0), "ML.Tokenizers now agrees with SentencePiece on ties");
    }

    [Test]
    public void MicrosoftMlDiffersOnRunsOfARepeatedPiece()
    {
        var tok = StoriesTokenizers.Reference;
        var ml = (SentencePieceTokenizer)StoriesTokenizers.Get(StoriesTokenizers.SentencePieceMl);
        // A piece made of one character twice ("ll"): in "xlll" the two "l"+"l" pairs tie.
        int doubled = Enumerable.Range(0, tok.VocabSize).First(id => tok.Kinds[id] == PieceKind.Normal
            && tok.Pieces[id].Length == 2 && tok.Pieces[id][0] == tok.Pieces[id][1]);
        string text = "x" + new string(tok.Pieces[doubled][0], 3);
        int[] exact = tok.Encode(text, addBos: false);
        Assert.That(exact.TakeLast(2), Is.EqualTo(new[] { doubled, tok.Pieces.ToList().IndexOf(tok.Pieces[doubled][..1]) }));
        Assert.That(ml.Encode(text, addBos: false), Is.EqualTo(exact.SkipLast(2).Concat(exact.TakeLast(2).Reverse())));
    }

    private (Llama2cTokenizer, SentencePieceTokenizer) SyntheticPair(int seed, bool encodeWithMicrosoftMl)
    {
        var tok = SyntheticVocabulary(seed, _dir);
        string model = Path.Combine(_dir, $"tied{seed}.model");
        SentencePieceModelWriter.Write(tok, model);
        return (tok, SentencePieceTokenizer.Load(model, encodeWithMicrosoftMl));
    }

    private static IEnumerable<string> TiedTexts(int seed)
    {
        var rng = new Random(seed * 100);
        string[] alphabet = ["a", "b", "c", " ", "é"];
        for (int n = 0; n < 500; n++)
            yield return RandomText.From(rng, alphabet, rng.Next(0, 40));
    }

    internal static Llama2cTokenizer SyntheticVocabulary(int seed, string dir)
    {
        var rng = new Random(seed);
        var pieces = new List<string> { "a", "b", "c", " " };
        var seen = new HashSet<string>(pieces);
        for (int tries = 0; pieces.Count < 60 && tries < 10_000; tries++)
        {
            string p = pieces[rng.Next(pieces.Count)] + pieces[rng.Next(pieces.Count)];
            if (p.Length <= 6 && seen.Add(p)) pieces.Add(p);
        }
        var scores = pieces.Select(_ => (float)-rng.Next(1, 5)).ToList();
        string path = Llama2cFileBuilder.WriteTemp(dir, $"synthetic{seed}.bin", Llama2cFileBuilder.Build(pieces, scores));
        return Llama2cTokenizer.Load(path);
    }

    private static int[] AssertSame(Llama2cTokenizer tok, string text)
    {
        int[] fast = tok.Encode(text, addBos: true);
        int[] naive = NaiveBpe.Encode(tok, text, addBos: true);
        Assert.That(fast, Is.EqualTo(naive), () => "text: " + string.Concat(text.Select(c => c < 0x7F ? c.ToString() : $"\\u{(int)c:X4}")));
        return fast;
    }
}
