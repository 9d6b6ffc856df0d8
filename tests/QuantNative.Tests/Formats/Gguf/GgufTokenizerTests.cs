using NUnit.Framework;
using QuantNative.Formats.Gguf;
using QuantNative.Model;
using QuantNative.Tests.Inference;
using QuantNative.Tokenization;
using QuantNative.Tokenization.Gguf;

namespace QuantNative.Tests.Formats.Gguf;

/// <summary>The tokenizer metadata qn writes, read back by qn's GGUF tokenizer (the encoding llama.cpp does): the same
/// ids as the source tokenizer on a slice of both evaluation texts, for every tokenizer kind (llama2.c, the
/// SentencePiece-style tokenizer.json of Mistral, the byte-level ones of Llama 3 and Qwen). llama.cpp's own ids are
/// compared in GgufLlamaCppTests.</summary>
public class GgufTokenizerTests
{
    public static IEnumerable<TestCaseData> Tokenizers()
    {
        yield return new TestCaseData("stories260K", TestPaths.Stories260K, TestPaths.Tok512).SetName("{m}(tok512)");
        foreach (var f in new[] { "llama3", "mistral", "qwen2" })
            yield return new TestCaseData(f, SyntheticFamilies.Dir(f), null).SetName($"{{m}}({f})");
    }

    /// <summary>A GGUF file of the tokenizer's metadata and no tensors, in <paramref name="dir"/>.</summary>
    private static string WriteTokenizerOnly(ITextTokenizer tokenizer, LlamaConfig config, string dir)
    {
        string path = Path.Combine(dir, "t.gguf");
        var kv = GgufTokenizerMetadata.From(tokenizer, config);
        kv.Insert(0, new("general.architecture", GgufValue.Of("llama")));
        GgufWriter.Write(path, kv, [], overwrite: false);
        return path;
    }

    [TestCaseSource(nameof(Tokenizers))]
    public void GgufTokenizerEncodesAsTheSource(string name, string model, string? tokenizerPath)
    {
        using var source = QuantNative.Formats.ModelLoader.Open(model);
        var tokenizer = TokenizerLoader.Load(model, tokenizerPath, source.Config.VocabSize);
        string dir = TestPaths.NewTempDir();
        try
        {
            string path = WriteTokenizerOnly(tokenizer, source.Config, dir);
            var back = GgufTokenizer.Load(path);
            Assert.That(back.AddsBos, Is.EqualTo(tokenizer.AddsBos));
            Assert.That(back.VocabSize, Is.EqualTo(source.Config.VocabSize), "padded to the embedding's rows");
            foreach (var file in new[] { TestPaths.TinyStories, TestPaths.WikiText })
            {
                string text = File.ReadAllText(file)[..30_000];
                var expected = tokenizer.EncodeAsTemplate(text);
                var actual = back.EncodeAsTemplate(text);
                Assert.That(actual, Is.EqualTo(expected), $"{name} on {Path.GetFileName(file)}");
                Assert.That(back.Decode(actual.AsSpan(tokenizer.AddsBos ? 1 : 0)), Is.EqualTo(tokenizer.Decode(expected.AsSpan(tokenizer.AddsBos ? 1 : 0))));
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>tokenizer.ggml.padding_token_id: written when tokenizer_config.json names a pad_token (Qwen's
    /// &lt;|endoftext|&gt;), read back by qn's GGUF reader as the same id and token; absent where there is none
    /// (llama2.c, Llama 3, Mistral's pad_token null).</summary>
    [TestCase("stories260K", null)]
    [TestCase("llama3", null)]
    [TestCase("mistral", null)]
    [TestCase("qwen2", "<|endoftext|>")]
    [TestCase("qwen3", "<|endoftext|>")]
    public void ThePaddingIdRoundTrips(string name, string? pad)
    {
        string model = name == "stories260K" ? TestPaths.Stories260K : SyntheticFamilies.Dir(name);
        using var source = QuantNative.Formats.ModelLoader.Open(model);
        var tokenizer = TokenizerLoader.Load(model, name == "stories260K" ? TestPaths.Tok512 : null, source.Config.VocabSize);
        string dir = TestPaths.NewTempDir();
        try
        {
            string path = WriteTokenizerOnly(tokenizer, source.Config, dir);
            using var back = GgufFile.Open(path);
            var written = back.Find("tokenizer.ggml.padding_token_id");
            if (pad == null)
            {
                Assert.That(tokenizer.PadId, Is.EqualTo(-1));
                Assert.That(written, Is.Null, "no pad token: no padding_token_id");
                return;
            }
            Assert.That(written, Is.Not.Null);
            int id = (int)written!.AsInteger("padding");
            Assert.That(id, Is.EqualTo(tokenizer.PadId));
            Assert.That(((string[])back.Require("tokenizer.ggml.tokens").Value)[id], Is.EqualTo(pad));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
