using System.Text;
using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>(b) Decode(Encode(x)) == x for every tokenizer, on text that needs byte fallback.</summary>
public class RoundTripTests
{
    private static readonly string[] Samples =
    [
        "",
        " ",
        "   ",
        "  leading spaces",
        "trailing spaces   ",
        "several    spaces  inside",
        "\n",
        "line one\nline two\r\n\r\n\tindented\n\n",
        "Once upon a time, there was a little girl named Lily.",
        "naïve café, Zürich, Ærøskøbing, İstanbul, ﬁnance",
        "日本語のテキスト、中文文本，한국어 텍스트",
        "emoji 😀👍🏽 👨‍👩‍👧‍👦 flags 🇳🇿",
        "math ∑ᵢ xᵢ² ≤ ∞, arrows → ⇒ ⟶",
        "control \u0000\u0001\u0007\u001b[0m\u007f\u0085\u200b\u200d\ufeff",
        "<s> <unk> </s> <0x0A> are plain text here",
        "\u2581 SentencePiece's space mark \u2581\u2581 inside and at the end \u2581",
        "\u2581starts with the mark",
        "mixed ▁ and spaces: ▁ ▁▁  ▁",
    ];

    private static IEnumerable<TestCaseData> Cases() =>
        from name in StoriesTokenizers.Names
        from i in Enumerable.Range(0, Samples.Length)
        select new TestCaseData(name, i).SetName($"{{m}}({name}, sample {i})");

    [TestCaseSource(nameof(Cases))]
    public void DecodeOfEncodeIsIdentity(string name, int sample)
    {
        var tok = StoriesTokenizers.Get(name);
        string text = Samples[sample];
        Assert.That(tok.Decode(tok.Encode(text, addBos: false)), Is.EqualTo(text));
        Assert.That(tok.Decode(tok.Encode(text, addBos: true)), Is.EqualTo(text));
    }

    [TestCaseSource(typeof(StoriesTokenizers), nameof(StoriesTokenizers.Names))]
    public void RandomUnicodeRoundTripsAndAllAgree(string name)
    {
        var tok = StoriesTokenizers.Get(name);
        var rng = new Random(1234);
        for (int n = 0; n < 300; n++)
        {
            string text = RandomText.Unicode(rng, rng.Next(0, 80));
            int[] ids = tok.Encode(text, addBos: false);
            Assert.That(tok.Decode(ids), Is.EqualTo(text), $"round trip of {Escape(text)}");
            Assert.That(ids, Is.EqualTo(StoriesTokenizers.Reference.Encode(text, addBos: false)),
                $"{name} differs from llama2.c on {Escape(text)}");
        }
    }

    [TestCaseSource(typeof(StoriesTokenizers), nameof(StoriesTokenizers.Names))]
    public void CharactersOutsideTheVocabularyBecomeByteTokens(string name)
    {
        var tok = StoriesTokenizers.Get(name);
        var reference = StoriesTokenizers.Reference;
        // Only characters the vocabulary lacks (no piece contains them); then no merge can apply.
        string text = "😀ÆΩ";
        Assert.That(reference.Pieces.Any(p => p.Contains('Æ') || p.Contains('Ω') || p.Contains("😀")), Is.False);
        int space = reference.Pieces.ToList().IndexOf(" ");
        int[] expected = [tok.BosId, space, .. Encoding.UTF8.GetBytes(text).Select(b => Llama2cTokenizer.FirstByteId + b)];
        Assert.That(tok.Encode(text, addBos: true), Is.EqualTo(expected));
    }

    [TestCaseSource(typeof(StoriesTokenizers), nameof(StoriesTokenizers.Names))]
    public void EmptyTextHasNoDummyPrefix(string name)
    {
        var tok = StoriesTokenizers.Get(name);
        Assert.That(tok.Encode("", addBos: false), Is.Empty);
        Assert.That(tok.Encode("", addBos: true), Is.EqualTo(new[] { tok.BosId }));
        Assert.That(tok.Decode([]), Is.EqualTo(""));
    }

    [TestCaseSource(typeof(StoriesTokenizers), nameof(StoriesTokenizers.Names))]
    public void DecodeSkipsControlTokens(string name)
    {
        var tok = StoriesTokenizers.Get(name);
        const string text = "The end.";
        int[] ids = [tok.BosId, .. tok.Encode(text, addBos: false), tok.EosId, tok.BosId];
        Assert.That(tok.Decode(ids), Is.EqualTo(text));
        // Only one leading space is the dummy prefix: the space of a text that began with one survives.
        Assert.That(tok.Decode(tok.Encode(" " + text, addBos: true)), Is.EqualTo(" " + text));
    }

    [TestCaseSource(typeof(StoriesTokenizers), nameof(StoriesTokenizers.Names))]
    public void DecodeRejectsIdsOutsideTheVocabulary(string name)
    {
        var tok = StoriesTokenizers.Get(name);
        Assert.That(() => tok.Decode([tok.VocabSize]), Throws.TypeOf<QuantNativeException>());
        Assert.That(() => tok.Decode([-1]), Throws.TypeOf<QuantNativeException>());
    }

    private static string Escape(string s) =>
        string.Concat(s.Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));
}
