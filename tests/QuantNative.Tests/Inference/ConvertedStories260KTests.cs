using NUnit.Framework;
using QuantNative.Evaluation;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;

namespace QuantNative.Tests.Inference;

/// <summary>
/// The Hugging Face path tested without downloading anything: stories260K converted to a Hugging Face directory
/// (rotate-half RoPE layout, safetensors, config.json) must give the reference logits.
/// </summary>
public class ConvertedStories260KTests
{
    private string _dir = "";

    [OneTimeSetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [OneTimeTearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private string Convert(FloatDType dtype, long? shardBytes = null)
    {
        string outDir = Path.Combine(_dir, $"{dtype}-{shardBytes}");
        using var source = ModelLoader.Open(TestPaths.Stories260K);
        HuggingFaceWriter.Write(source, outDir, dtype, shardBytes);
        return outDir;
    }

    [Test]
    public void F32DirectoryMatchesTheReference()
    {
        var logits = Stories260KTests.ReferenceForward(Stories260KTests.LoadModel(Convert(FloatDType.F32)));
        TensorAssert.Close(logits, ReferenceLogits.Logits(), Tolerances.ReferenceLogitsAbs, "F32 directory logits");
    }

    [Test]
    public void ShardedF32DirectoryMatchesTheReference()
    {
        var logits = Stories260KTests.ReferenceForward(Stories260KTests.LoadModel(Convert(FloatDType.F32, 200_000)));
        TensorAssert.Close(logits, ReferenceLogits.Logits(), Tolerances.ReferenceLogitsAbs, "sharded F32 logits");
    }

    [Test]
    public void Bf16DirectoryStaysCloseToTheReference()
    {
        var logits = Stories260KTests.ReferenceForward(Stories260KTests.LoadModel(Convert(FloatDType.BF16)));
        var reference = ReferenceLogits.Logits();
        TensorAssert.Close(logits, reference, Tolerances.Bf16LogitsAbs, "BF16 directory logits");
        double meanAbs = logits.Select((v, i) => Math.Abs(v - (double)reference[i])).Average();
        Assert.That(meanAbs, Is.LessThan(Tolerances.Bf16LogitsMeanAbs), "mean |logit error|");
        var tokens = ReferenceLogits.Tokens();
        double nll = Perplexity.SumNextTokenNll(logits, tokens, ReferenceLogits.Vocab) / (tokens.Length - 1);
        Assert.That(nll, Is.EqualTo(ReferenceLogits.MeanNll()).Within(Tolerances.Bf16MeanNllRelative * ReferenceLogits.MeanNll()));
        // Not vacuous: BF16 rounding must actually have changed the logits.
        Assert.That(TensorAssert.MaxAbsDiff(logits, reference), Is.GreaterThan(Tolerances.ReferenceLogitsAbs));
    }
}
