using System.Text.Json.Nodes;
using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>The tokenizer.json writer's shape, the other LLaMA spelling (Metaspace), and bad files (d).</summary>
public class HfTokenizerJsonTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.NewTempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static JsonObject Written() => JsonNode.Parse(File.ReadAllText(StoriesTokenizers.JsonPath))!.AsObject();

    private string WriteJson(string text) => Llama2cFileBuilder.WriteTemp(_dir, "tokenizer.json", System.Text.Encoding.UTF8.GetBytes(text));

    [Test]
    public void MergesAreEveryTwoPieceSplitOrderedByScore()
    {
        var tok = StoriesTokenizers.Reference;
        var json = Written();
        var vocab = json["model"]!["vocab"]!.AsObject().ToDictionary(p => p.Key, p => (int)p.Value!);
        var merges = json["model"]!["merges"]!.AsArray()
            .Select(m => (Left: (string)m![0]!, Right: (string)m[1]!)).ToList();
        // Every Normal piece of two or more characters is reachable by at least one merge.
        var made = merges.Select(m => vocab[m.Left + m.Right]).ToHashSet();
        var multi = Enumerable.Range(0, tok.VocabSize)
            .Where(id => tok.Kinds[id] == PieceKind.Normal && tok.Pieces[id].Length > 1).ToList();
        Assert.That(multi.Where(id => !made.Contains(id)), Is.Empty);
        // Ranks follow the merged pieces' scores, highest first.
        var scores = merges.Select(m => tok.Scores[vocab[m.Left + m.Right]]).ToList();
        Assert.That(scores, Is.Ordered.Descending);
        Assert.That((bool)json["model"]!["byte_fallback"]!, Is.True);
    }

    [Test]
    public void MetaspaceSpellingEncodesLikeThePrependSpelling()
    {
        // transformers' newer LLaMA conversion: no normalizer, a Metaspace pre-tokenizer that prepends "▁".
        var json = Written();
        json["normalizer"] = null;
        json["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = "first", ["split"] = false,
        };
        var meta = HfTokenizerJson.Load(WriteJson(json.ToJsonString()));
        var prepend = StoriesTokenizers.Get(StoriesTokenizers.TokenizerJson);
        string text = ReferenceData.TinyStories()[..30_000];
        Assert.That(meta.Encode(text, addBos: true), Is.EqualTo(prepend.Encode(text, addBos: true)));
        // Hugging Face's Metaspace does not add a second "▁" to text that already starts with a space.
        Assert.That(meta.Encode(" Once", addBos: false), Is.EqualTo(prepend.Encode("Once", addBos: false)));
        Assert.That(meta.Encode(" Once", addBos: false), Is.Not.EqualTo(prepend.Encode(" Once", addBos: false)));
    }

    [Test]
    public void MetaspaceSplitKeepsMergesInsideWords()
    {
        // With split = true no merge crosses a "▁"; tok512 has no piece with "▁" inside, so nothing changes.
        var tok = StoriesTokenizers.Reference;
        Assert.That(tok.Pieces.Where((p, id) => tok.Kinds[id] == PieceKind.Normal && p.IndexOf(' ', 1) > 0), Is.Empty);
        var json = Written();
        json["normalizer"] = null;
        json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["add_prefix_space"] = true };
        var meta = HfTokenizerJson.Load(WriteJson(json.ToJsonString()));
        // WikiText starts with " \n": trimmed, because Metaspace adds no "▁" before a leading space (see above).
        string text = ReferenceData.WikiHead()[..30_000].TrimStart();
        Assert.That(meta.Encode(text, addBos: false), Is.EqualTo(tok.Encode(text, addBos: false)));
    }

    [Test]
    public void OlderMergeSpellingLoadsTheSame()
    {
        var json = Written();
        var merges = json["model"]!["merges"]!.AsArray();
        json["model"]!["merges"] = new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create($"{m![0]} {m[1]}")).ToArray());
        var old = HfTokenizerJson.Load(WriteJson(json.ToJsonString()));
        string text = ReferenceData.WikiHead()[..20_000];
        Assert.That(old.Encode(text, addBos: true), Is.EqualTo(StoriesTokenizers.Reference.Encode(text, addBos: true)));
    }

    private void AssertFails(string content, string expected)
    {
        string path = WriteJson(content);
        var e = Assert.Throws<QuantNativeException>(() => HfTokenizerJson.Load(path))!;
        Assert.That(e.Message, Does.Contain(path));
        Assert.That(e.Message, Does.Contain(expected).IgnoreCase);
    }

    [Test]
    public void MissingFile()
    {
        string path = Path.Combine(_dir, "missing.json");
        var e = Assert.Throws<QuantNativeException>(() => HfTokenizerJson.Load(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contains("not found"));
    }

    [Test]
    public void InvalidJson()
    {
        string good = File.ReadAllText(StoriesTokenizers.JsonPath);
        AssertFails(good[..(good.Length / 2)], "not valid JSON");
        AssertFails("", "not valid JSON");
        AssertFails("[1, 2]", "not a JSON object");
    }

    [Test]
    public void UnsupportedModelType()
    {
        var json = Written();
        json["model"]!["type"] = "Unigram";
        AssertFails(json.ToJsonString(), "model type \"Unigram\"");
    }

    [TestCase("vocab", "model.vocab")]
    [TestCase("merges", "model.merges")]
    public void MissingModelField(string field, string expected)
    {
        var json = Written();
        json["model"]!.AsObject().Remove(field);
        AssertFails(json.ToJsonString(), expected);
    }

    [Test]
    public void MissingModel()
    {
        var json = Written();
        json.Remove("model");
        AssertFails(json.ToJsonString(), "no \"model\"");
    }

    [Test]
    public void MergeOfUnknownPiece()
    {
        var json = Written();
        json["model"]!["merges"]!.AsArray().Add(new JsonArray("\u2581t", "no-such-piece"));
        AssertFails(json.ToJsonString(), "not in the vocabulary");
    }

    [Test]
    public void ByteLevelPreTokenizerIsRefused()
    {
        var json = Written();
        json["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false };
        AssertFails(json.ToJsonString(), "pre_tokenizer \"ByteLevel\"");
    }

    [Test]
    public void UnicodeNormalizerIsRefused()
    {
        var json = Written();
        json["normalizer"] = new JsonObject { ["type"] = "NFKC" };
        AssertFails(json.ToJsonString(), "normalizer \"NFKC\"");
    }

    [Test]
    public void WrongTypedVocabEntry()
    {
        var json = Written();
        json["model"]!["vocab"]!["\u2581t"] = "259";
        AssertFails(json.ToJsonString(), "is not a non-negative integer id");
    }
}
