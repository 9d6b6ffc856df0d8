using System.Text.Json;
using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;
using QuantNative.Tests.Formats;
using QuantNative.Tests.Inference;

namespace QuantNative.Tests.Cli;

/// <summary>
/// `qn quantize` with every method on each synthetic family (on the CPU, and the learned methods also on the emulated
/// device), then the output opened by qn: `qn eval` runs on it, its config.json keeps the source's identity, and the
/// biases and q/k norms are the source's bytes (never quantized, never learned).
/// </summary>
[TestFixtureSource(typeof(SyntheticFamilies), nameof(SyntheticFamilies.All))]
public class FamilyQuantizeCliTests(string family) : SplitTextFixture
{
    private string Source => SyntheticFamilies.Dir(family);

    public static IEnumerable<TestCaseData> Runs()
    {
        foreach (var method in new[] { "rtn", "gptq", "omniquant", "lsi", "cqe+" })
            yield return new TestCaseData(method, "cpu").SetName($"{method} on the CPU");
        foreach (var method in new[] { "omniquant", "lsi", "cqe+" })
            yield return new TestCaseData(method, "emulate").SetName($"{method} on the emulated device");
    }

    [TestCaseSource(nameof(Runs))]
    public void QuantizeRunsAndTheOutputKeepsTheSourcesIdentity(string method, string device)
    {
        string outDir = NewOut();
        var q = CliRunner.Run("quantize", "--model", Source, "--method", method, "--wbits", "4", "--group", "32",
            "--calib", Calib, "--nsamples", "2", "--seqlen", "32", "--epochs", "1", "--device", device, "--out", outDir);
        Assert.That(q.ExitCode, Is.EqualTo(0), q.ToString());

        var eval = CliRunner.Run("eval", "--model", outDir, "--text", Eval, "--ctx", "64", "--max-windows", "2", "--json");
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.ToString());
        using (var json = JsonDocument.Parse(eval.Stdout))
            Assert.That(double.IsFinite(json.RootElement.GetProperty("nll").GetDouble()), eval.Stdout);

        using var source = ModelLoader.Open(Source);
        using var output = ModelLoader.Open(outDir);
        Assert.That(output.Format, Is.EqualTo("gptq"));
        Assert.That(output.Config.Maths(), Is.EqualTo(source.Config.Maths()), "the maths of the output's config");
        Assert.That(output.Config.Identity with { SourceConfigJson = null },
            Is.EqualTo(source.Config.Identity with { SourceConfigJson = null }).Using<ModelIdentity>(SameIdentity),
            "model_type, architecture, bos/eos and torch_dtype");
        AssertExtrasAreTheSourcesBytes(source.Config, outDir);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", CheckpointCompanions.GenerationConfig })
            Assert.That(File.ReadAllBytes(Path.Combine(outDir, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(Source, file))),
                $"{file} copied as it was");
    }

    private static bool SameIdentity(ModelIdentity a, ModelIdentity b) =>
        a.ModelType == b.ModelType && a.Architecture == b.Architecture && a.BosTokenId == b.BosTokenId &&
        a.EosTokenIds.SequenceEqual(b.EosTokenIds) && a.TorchDtype == b.TorchDtype;

    private void AssertExtrasAreTheSourcesBytes(LlamaConfig c, string outDir)
    {
        var files = new List<SafetensorsFile>();
        try
        {
            var sourceTensors = HuggingFaceCheckpoint.OpenWeights(Source, files);
            var outputTensors = HuggingFaceCheckpoint.OpenWeights(outDir, files);
            int checkedTensors = 0;
            for (int layer = 0; layer < c.NumLayers; layer++)
                foreach (var part in BlockExtraParts.Of(c))
                {
                    string name = HuggingFaceNames.Extra(layer, part.Part);
                    Assert.That(outputTensors[name].Info(name).DType, Is.EqualTo(sourceTensors[name].Info(name).DType), name);
                    Assert.That(outputTensors[name].ReadBytes(name), Is.EqualTo(sourceTensors[name].ReadBytes(name)), name);
                    checkedTensors++;
                }
            Assert.That(checkedTensors, Is.EqualTo(c.NumLayers * BlockExtraParts.Of(c).Count()));
        }
        finally
        {
            foreach (var f in files) f.Dispose();
        }
    }
}
