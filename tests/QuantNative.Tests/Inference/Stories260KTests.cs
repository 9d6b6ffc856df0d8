using NUnit.Framework;
using QuantNative.Evaluation;
using QuantNative.Formats;
using QuantNative.Inference;
using QuantNative.Model;

namespace QuantNative.Tests.Inference;

/// <summary>The real pretrained model against its float64 reference logits.</summary>
public class Stories260KTests
{
    public static LlamaModel LoadModel(string path)
    {
        using var source = ModelLoader.Open(path);
        return LlamaModel.Load(source);
    }

    public static float[] ReferenceForward(LlamaModel model) =>
        new InferenceSession(model, ReferenceLogits.Positions).Forward(ReferenceLogits.Tokens());

    [Test]
    public void Llama2cLogitsMatchTheFloat64Reference()
    {
        var logits = ReferenceForward(LoadModel(TestPaths.Stories260K));
        TensorAssert.Close(logits, ReferenceLogits.Logits(), Tolerances.ReferenceLogitsAbs, "stories260K logits");
    }

    [Test]
    public void MeanNllMatchesTheReferenceSummary()
    {
        var tokens = ReferenceLogits.Tokens();
        var logits = ReferenceForward(LoadModel(TestPaths.Stories260K));
        double nll = Perplexity.SumNextTokenNll(logits, tokens, ReferenceLogits.Vocab) / (tokens.Length - 1);
        Assert.That(nll, Is.EqualTo(ReferenceLogits.MeanNll()).Within(Tolerances.ReferenceMeanNllAbs));
    }

    [Test]
    public void KvCacheDecodingMatchesFullSequenceAtEveryPosition()
    {
        var model = LoadModel(TestPaths.Stories260K);
        var tokens = ReferenceLogits.Tokens();
        var whole = ReferenceForward(model);
        var session = new InferenceSession(model, tokens.Length);
        var stepwise = tokens.SelectMany(t => session.Forward([t])).ToArray();
        TensorAssert.Close(stepwise, whole, Tolerances.SameModelReorderedAbs, "decoded logits");
    }
}
