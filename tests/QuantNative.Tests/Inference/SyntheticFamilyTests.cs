using NUnit.Framework;
using QuantNative.Evaluation;
using QuantNative.Formats;
using QuantNative.Inference;
using QuantNative.Model;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Inference;

/// <summary>
/// Each of today's families (Llama 3 with llama3 RoPE scaling, Mistral's sliding window, Qwen2's biases, Qwen3's
/// head_dim and q/k norms) against the float64 references of Transformers' maths: the forward pass, the perplexity
/// protocol, greedy decoding through the KV cache, and the tokenizer of the checkpoint directory.
/// </summary>
[TestFixtureSource(typeof(SyntheticFamilies), nameof(SyntheticFamilies.All))]
public class SyntheticFamilyTests(string family)
{
    private LlamaModel Load()
    {
        using var source = ModelLoader.Open(SyntheticFamilies.Dir(family));
        return LlamaModel.Load(source);
    }

    [Test]
    public void LogitsMatchTheFloat64Reference()
    {
        var tokens = SyntheticFamilies.Tokens(family)[..SyntheticFamilies.LogitRows];
        var logits = new InferenceSession(Load(), tokens.Length).Forward(tokens);
        double error = SyntheticFamilies.RelativeMaxError(logits, SyntheticFamilies.Logits(family));
        Assert.That(error, Is.LessThanOrEqualTo(Tolerances.SyntheticFamilyLogitsRel), $"{family}: logits");
    }

    [Test]
    public void PerplexityProtocolMatchesTheReferenceNll()
    {
        var tokens = SyntheticFamilies.Tokens(family);
        var result = Perplexity.Evaluate(Load(), tokens, SyntheticFamilies.WindowTokens);
        Assert.That(result.Windows, Is.EqualTo(SyntheticFamilies.Windows));
        double expected = SyntheticFamilies.MeanNll(family);
        Assert.That(Math.Abs(result.Nll - expected) / expected, Is.LessThanOrEqualTo(Tolerances.SyntheticFamilyNllRel),
            $"{family}: mean NLL {result.Nll:R}, reference {expected:R}");
    }

    [Test]
    public void GreedyDecodingReproducesTheReferenceIds()
    {
        var model = Load();
        var tokenizer = TokenizerLoader.Load(SyntheticFamilies.Dir(family), null, model.Config.VocabSize);
        var prompt = SyntheticFamilies.Tokens(family)[..SyntheticFamilies.GreedyFrom];
        var result = TextGenerator.Generate(model, tokenizer, prompt, SyntheticFamilies.GreedyTokens,
            new Sampler(0, 1, 0), stopAtEnd: false, _ => { });
        Assert.That(result.Ids, Is.EqualTo(SyntheticFamilies.Greedy(family)));
    }

    [Test]
    public void TheDirectorysTokenizerGivesTheReferenceIds()
    {
        var model = Load();
        var tokenizer = TokenizerLoader.Load(SyntheticFamilies.Dir(family), null, model.Config.VocabSize);
        string text = System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(TestPaths.TinyStories)[..SyntheticFamilies.TextBytes]);
        var expected = SyntheticFamilies.Tokens(family);
        Assert.That(tokenizer.EncodeAsTemplate(text)[..expected.Length], Is.EqualTo(expected));
    }
}
