using System.Text;
using System.Text.RegularExpressions;
using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>The parts of the byte-level pipeline that the reference files exercise only in passing: the hand-written
/// pre-tokenizer scanner against .NET's Regex, our NFC, the GPT-2 byte alphabet.</summary>
public class ByteLevelPipelineTests
{
    private static List<string> Pieces(string pattern, string text, bool viaRegex)
    {
        var pieces = new List<string>();
        if (viaRegex)
        {
            foreach (Match m in new Regex(pattern, RegexOptions.CultureInvariant).Matches(text)) pieces.Add(m.Value);
            return pieces;
        }
        var scanner = PreTokenizerPattern.Create(pattern, "test");
        int pos = 0;
        while (scanner.NextMatch(text, pos, text.Length, out int start, out int end))
        {
            Assert.That(start, Is.EqualTo(pos), "the known patterns tile the text");
            pieces.Add(text[start..end]);
            pos = end;
        }
        return pieces;
    }

    // Letters, digits of several scripts, contractions' pieces, whitespace of every kind, punctuation, combining marks.
    private const string Alphabet = "aAsStTrReEvVmMlLdDxyz'''  \t\n\r\n\u000b\u000c\u0085\u00a0\u3000\u2028" +
        "0123456789٣٤¹²½Ⅻ.,!?-_()[]\"#$%&*+/<=>@\\^`{|}~éÉßñçøİıΣσπЖж中文日本語한국어\u0301\u0323\u20ac\u2581\u00ad\u200d";

    [TestCase(PreTokenizerPattern.Gpt2)]
    [TestCase(PreTokenizerPattern.Llama3)]
    [TestCase(PreTokenizerPattern.Qwen)]
    public void ScannerMatchesDotNetRegexOnBasicPlaneText(string pattern)
    {
        var rng = new Random(20261205);
        for (int n = 0; n < 3000; n++)
        {
            var sb = new StringBuilder();
            int length = rng.Next(0, 24);
            for (int i = 0; i < length; i++) sb.Append(Alphabet[rng.Next(Alphabet.Length)]);
            string text = sb.ToString();
            Assert.That(Pieces(pattern, text, viaRegex: false), Is.EqualTo(Pieces(pattern, text, viaRegex: true)),
                System.Text.Json.JsonSerializer.Serialize(text));
        }
    }

    [Test]
    public void ScannerTakesCodePointsWhereDotNetRegexTakesSurrogates()
    {
        // Oniguruma sees one code point: an emoji is the optional prefix of the letters after it, and a
        // mathematical bold letter (outside the BMP) is a letter.
        Assert.That(Pieces(PreTokenizerPattern.Llama3, "😀abc", viaRegex: false), Is.EqualTo(new[] { "😀abc" }));
        Assert.That(Pieces(PreTokenizerPattern.Llama3, " 𝐀𝐁c", viaRegex: false), Is.EqualTo(new[] { " 𝐀𝐁c" }));
        Assert.That(Pieces(PreTokenizerPattern.Llama3, "𝟏𝟐𝟑𝟒", viaRegex: false), Is.EqualTo(new[] { "𝟏𝟐𝟑", "𝟒" }));
        Assert.That(Pieces(PreTokenizerPattern.Qwen, "𝟏𝟐", viaRegex: false), Is.EqualTo(new[] { "𝟏", "𝟐" }));
    }

    [TestCase("cafe\u0301", "caf\u00e9")]
    [TestCase("\u1100\u1161\u11a8", "\uac01")]             // Hangul jamo compose algorithmically
    [TestCase("\u212b", "\u00c5")]                         // Angstrom sign: a singleton decomposition
    [TestCase("a\u0302\u0323", "\u1ead")]                  // canonical order before composing
    [TestCase("a\u0323\u0302", "\u1ead")]
    [TestCase("\u0958", "\u0915\u093c")]                   // composition exclusion stays decomposed
    [TestCase("plain ascii", "plain ascii")]
    [TestCase("e\u0301\u0301", "\u00e9\u0301")]            // a blocked second mark stays
    [TestCase("😀e\u0301", "😀\u00e9")]
    public void Nfc(string input, string expected) => Assert.That(UnicodeNfc.Normalize(input), Is.EqualTo(expected));

    [Test]
    public void ByteAlphabetIsGpt2s()
    {
        Assert.That(ByteLevelAlphabet.Char((byte)' '), Is.EqualTo('Ġ'));
        Assert.That(ByteLevelAlphabet.Char((byte)'\n'), Is.EqualTo('Ċ'));
        Assert.That(ByteLevelAlphabet.Char((byte)'a'), Is.EqualTo('a'));
        var chars = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.Char((byte)b)).ToList();
        Assert.That(chars.Distinct().Count(), Is.EqualTo(256));
        Assert.That(chars.Select(ByteLevelAlphabet.Byte), Is.EqualTo(Enumerable.Range(0, 256)));
    }

    [Test]
    public void RoundTripSemanticsLeaveAddedTokensAsText()
    {
        string path = Path.Combine(TestPaths.Shared, "tokenizers", "llama3", "tokenizer.json");
        var roundTrip = HfTokenizerJson.Load(path);
        var hf = RealTokenizerParityTests.Get("llama3");
        string text = "a<|begin_of_text|>b";
        Assert.That(hf.Encode(text, addBos: false), Does.Contain(128000));
        Assert.That(roundTrip.Encode(text, addBos: false), Does.Not.Contain(128000));
        Assert.That(roundTrip.Decode(roundTrip.Encode(text, addBos: false)), Is.EqualTo(text));
    }
}

/// <summary>What a quantized checkpoint carries of a tokenizer.json source.</summary>
public class TokenizerFilesForTokenizerJsonTests
{
    [Test]
    public void CheckpointKeepsTheSourcesConfig()
    {
        var files = TokenizerFiles.For(RealTokenizerParityTests.Get("qwen")).ToList();
        Assert.That(files.Select(f => f.FileName), Is.EqualTo(new[] { "tokenizer.json", "tokenizer_config.json" }));
        using var written = new MemoryStream();
        files[1].Write(written);
        Assert.That(written.ToArray(),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(TestPaths.Shared, "tokenizers", "qwen", "tokenizer_config.json"))));
    }
}
