using NUnit.Framework;
using QuantNative.Evaluation;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Inference;
using QuantNative.Inference.LowBit;
using QuantNative.Model;
using QuantNative.Tests.Quantization;

namespace QuantNative.Tests.Inference;

/// <summary>
/// Inference on the weights as stored (InferenceModel.Open) against the fp32-expanded model of the same checkpoint
/// (LlamaModel.Load, the path every earlier bar was measured on): stories260K's GPTQ-format outputs (low-bit linears)
/// keep their perplexity to 1e-6 relative, decoding token by token gives the logits of the whole sequence, and the
/// synthetic BF16 checkpoints (mapped linears) keep the float64 references.
/// </summary>
public class PackedInferenceTests
{
    private string _dir = "";
    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, true);

    [TestCase("rtn", 4, 32, false)]
    [TestCase("gptq", 3, 32, true)]
    [TestCase("gptq", 2, -1, false)]
    public void LowBitPerplexityEqualsTheExpandedModels(string method, int bits, int group, bool actOrder)
    {
        var q = StoriesSplit.Quantize(method, bits, group, GptqCheckpointFormat.V2, actOrder);
        string dir = Path.Combine(_dir, "q");
        GptqCheckpointWriter.Write(q.Model, dir);
        double expanded;
        using (var source = ModelLoader.Open(dir)) expanded = StoriesSplit.Evaluate(LlamaModel.Load(source)).Nll;
        using var packed = InferenceModel.Open(ModelLoader.Open(dir));
        Assert.That(packed.Form, Does.StartWith("low-bit"));
        double nll = Perplexity.Evaluate(packed, StoriesSplit.EvalTokens, StoriesSplit.EvalCtx, StoriesSplit.EvalWindows).Nll;
        Assert.That(Math.Abs(nll - expanded) / expanded, Is.LessThanOrEqualTo(Tolerances.PackedVsExpandedNllRel));
        // In memory (qn quantize's and qn ablate's own evaluation) as from the written checkpoint.
        using var inMemory = InferenceModel.From(q.Model);
        double fromMemory = Perplexity.Evaluate(inMemory, StoriesSplit.EvalTokens, StoriesSplit.EvalCtx, StoriesSplit.EvalWindows).Nll;
        Assert.That(Math.Abs(fromMemory - expanded) / expanded, Is.LessThanOrEqualTo(Tolerances.PackedVsExpandedNllRel));
    }

    [TestCase(DecodeActivations.Float32)]
    [TestCase(DecodeActivations.Int8)]
    public void LowBitDecodingTokenByTokenMatchesTheWholeSequence(DecodeActivations activations)
    {
        var q = StoriesSplit.Quantize("gptq", 4, 32, GptqCheckpointFormat.V2, actOrder: true);
        string dir = Path.Combine(_dir, "q");
        GptqCheckpointWriter.Write(q.Model, dir);
        using var model = InferenceModel.Open(ModelLoader.Open(dir)).WithDecodeActivations(activations);
        var tokens = StoriesSplit.EvalTokens[..40];
        var whole = new InferenceSession(model, tokens.Length).Forward(tokens);
        var session = new InferenceSession(model, tokens.Length);
        var stepwise = tokens.SelectMany(t => session.Forward([t])).ToArray();
        // Decode runs the GEMV (factored group sums; with int8 activations, x rounded per chunk), the whole sequence the
        // dequantized-tile GEMM on float32 x.
        double worst = 0, scale = 0;
        for (int i = 0; i < whole.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(whole[i] - stepwise[i]));
            scale = Math.Max(scale, Math.Abs(whole[i]));
        }
        TestContext.Out.WriteLine($"{activations}: max |Δlogit| / max |logit| = {worst / scale:E2}");
        Assert.That(worst / scale, Is.LessThanOrEqualTo(activations == DecodeActivations.Int8
            ? Tolerances.PackedInt8DecodeVsPrefillLogitsRel : Tolerances.PackedDecodeVsPrefillLogitsRel));
    }

    [TestCaseSource(typeof(SyntheticFamilies), nameof(SyntheticFamilies.All))]
    public void MappedFamiliesKeepTheirReferences(string family)
    {
        using var model = InferenceModel.Open(ModelLoader.Open(SyntheticFamilies.Dir(family)));
        Assert.That(model.Form, Is.EqualTo("mapped BF16"));
        var tokens = SyntheticFamilies.Tokens(family);
        var logits = new InferenceSession(model, SyntheticFamilies.LogitRows).Forward(tokens[..SyntheticFamilies.LogitRows]);
        Assert.That(SyntheticFamilies.RelativeMaxError(logits, SyntheticFamilies.Logits(family)),
            Is.LessThanOrEqualTo(Tolerances.SyntheticFamilyLogitsRel));
        double nll = Perplexity.Evaluate(model, tokens, SyntheticFamilies.WindowTokens).Nll, expected = SyntheticFamilies.MeanNll(family);
        Assert.That(Math.Abs(nll - expected) / expected, Is.LessThanOrEqualTo(Tolerances.SyntheticFamilyNllRel));
    }
}
