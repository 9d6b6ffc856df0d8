using NUnit.Framework;
using QuantNative.Inference;
using QuantNative.Model;

namespace QuantNative.Tests.Inference;

public class ForwardTests
{
    public static IEnumerable<TestCaseData> Shapes()
    {
        // hidden, intermediate, layers, heads, kvHeads, vocab, tied, theta, tokens
        yield return new TestCaseData(24, 17, 2, 3, 1, 37, false, 10000f, 17).SetName("GQA 3:1, odd sizes, untied, T=17");
        yield return new TestCaseData(64, 172, 1, 8, 4, 512, true, 10000f, 40).SetName("stories260K shape, T=40");
        yield return new TestCaseData(16, 40, 1, 2, 2, 29, true, 500000f, 1).SetName("single token, theta 5e5");
        yield return new TestCaseData(16, 24, 1, 2, 1, 19, false, 10000f, 300).SetName("T=300 crosses the attention query tile");
    }

    [TestCaseSource(nameof(Shapes))]
    public void Fp32ForwardMatchesFloat64Definition(int hidden, int inter, int layers, int heads, int kvHeads,
        int vocab, bool tied, float theta, int tokens)
    {
        var config = new LlamaConfig(hidden, inter, layers, heads, kvHeads, vocab, 512, 1e-5f, theta, tied);
        var model = RandomModels.Create(config, seed: hidden + tokens);
        var ids = RandomModels.Tokens(tokens, vocab, seed: 7);
        var expected = DoubleForward.Logits(model, ids);
        var actual = new InferenceSession(model, tokens).Forward(ids);
        TensorAssert.Close(actual, expected, Tolerances.Fp32VsFloat64ForwardAbs, "logits");
    }

    [Test]
    public void OneTokenAtATimeEqualsWholeSequence()
    {
        var config = new LlamaConfig(24, 17, 2, 6, 2, 41, 64, 1e-5f, 10000f, false);
        var model = RandomModels.Create(config, seed: 3);
        var ids = RandomModels.Tokens(64, config.VocabSize, seed: 4);
        var whole = new InferenceSession(model, 64).Forward(ids);
        var session = new InferenceSession(model, 64);
        var stepwise = ids.SelectMany(id => session.Forward([id])).ToArray();
        TensorAssert.Close(stepwise, whole.Select(v => (double)v).ToArray(), Tolerances.SameModelReorderedAbs, "logits");
    }

    [Test]
    public void PromptThenTokensEqualsWholeSequence()
    {
        var config = new LlamaConfig(16, 24, 1, 2, 1, 19, 300, 1e-5f, 10000f, false);
        var model = RandomModels.Create(config, seed: 5);
        var ids = RandomModels.Tokens(290, config.VocabSize, seed: 6);
        var whole = new InferenceSession(model, 300).Forward(ids);
        var session = new InferenceSession(model, 300);
        var chunked = session.Forward(ids.AsSpan(0, 270)).Concat(session.Forward(ids.AsSpan(270, 19)))
            .Concat(session.Forward(ids.AsSpan(289, 1))).ToArray();
        TensorAssert.Close(chunked, whole.Select(v => (double)v).ToArray(), Tolerances.SameModelReorderedAbs, "logits");
    }

    [Test]
    public void ResetStartsAFreshSequence()
    {
        var config = new LlamaConfig(16, 24, 1, 2, 1, 19, 32, 1e-5f, 10000f, false);
        var model = RandomModels.Create(config, seed: 8);
        var ids = RandomModels.Tokens(10, config.VocabSize, seed: 9);
        var session = new InferenceSession(model, 32);
        var first = session.Forward(ids);
        session.Reset();
        Assert.That(session.Forward(ids), Is.EqualTo(first));
    }

    [Test]
    public void ContextAndVocabularyAreChecked()
    {
        var config = new LlamaConfig(16, 24, 1, 2, 1, 19, 32, 1e-5f, 10000f, false);
        var model = RandomModels.Create(config, seed: 8);
        Assert.That(() => new InferenceSession(model, 33), Throws.InstanceOf<QuantNativeException>().With.Message.Contains("32"));
        var session = new InferenceSession(model, 4);
        Assert.That(() => session.Forward([1, 2, 3, 4, 5]), Throws.InstanceOf<QuantNativeException>().With.Message.Contains("context of 4"));
        Assert.That(() => session.Forward([19]), Throws.InstanceOf<QuantNativeException>().With.Message.Contains("token id 19"));
    }
}
