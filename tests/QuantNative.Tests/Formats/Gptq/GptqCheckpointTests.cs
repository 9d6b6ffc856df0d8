using System.Text.Json.Nodes;
using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Sequential;
using QuantNative.Tests.Quantization;

namespace QuantNative.Tests.Formats.Gptq;

/// <summary>The GPTQ-format directory: export, reload, equality with the in-memory model, atomicity, bad files.</summary>
public class GptqCheckpointTests
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    /// <summary>
    /// Every reloaded weight is bit-identical to the in-memory quantized model's, so the perplexity (the same forward on
    /// the same weights) is equal, not merely close.
    /// </summary>
    [TestCase("rtn", GptqCheckpointFormat.V1, 4, -1, false)]
    [TestCase("rtn", GptqCheckpointFormat.V2, 3, 32, false)]
    [TestCase("rtn", GptqCheckpointFormat.V1, 3, 32, false)]
    [TestCase("gptq", GptqCheckpointFormat.V1, 3, 32, false)]
    [TestCase("gptq", GptqCheckpointFormat.V2, 4, -1, false)]
    [TestCase("gptq", GptqCheckpointFormat.V2, 3, -1, false)]
    [TestCase("gptq", GptqCheckpointFormat.V1, 4, 32, true)]
    public void TheExportReloadsToTheSameModelAndPerplexity(string method, GptqCheckpointFormat format, int bits, int group,
        bool actOrder)
    {
        var q = StoriesSplit.Quantize(method, bits, group, format, actOrder);
        string outDir = Path.Combine(_dir, "q");
        GptqCheckpointWriter.Write(q.Model, outDir);

        LlamaModel reloaded;
        using (var source = ModelLoader.Open(outDir))
        {
            Assert.That(source.Format, Is.EqualTo("gptq"));
            var gptq = (GptqCheckpoint)source;
            Assert.That(gptq.Quantization.Format, Is.EqualTo(format));
            Assert.That(gptq.Quantization.DescAct, Is.EqualTo(actOrder));
            for (int layer = 0; layer < q.Model.Config.NumLayers; layer++)
                foreach (var linear in BlockLinears.All)
                {
                    var stored = gptq.LoadMatrix(layer, linear.Part);
                    var memory = q.Model.Blocks[layer].Linears[linear.Part];
                    Assert.That(stored.Codes, Is.EqualTo(memory.Codes), $"{layer} {linear.Part} codes");
                    Assert.That(stored.Zeros, Is.EqualTo(memory.Zeros), $"{layer} {linear.Part} zeros");
                    Assert.That(stored.Scales, Is.EqualTo(memory.Scales), $"{layer} {linear.Part} scales");
                    Assert.That(stored.GroupIndex, Is.EqualTo(memory.GroupIndex), $"{layer} {linear.Part} g_idx");
                }
            reloaded = LlamaModel.Load(source);
        }
        var inMemory = q.Model.ToLlamaModel();
        for (int layer = 0; layer < q.Model.Config.NumLayers; layer++)
            foreach (var linear in BlockLinears.All)
                Assert.That(linear.Weights(reloaded.Blocks[layer]), Is.EqualTo(linear.Weights(inMemory.Blocks[layer])));
        var a = StoriesSplit.Evaluate(inMemory);
        var b = StoriesSplit.Evaluate(reloaded);
        Assert.That(b.Nll, Is.EqualTo(a.Nll), "bit-identical weights give the identical NLL");
        if (format == GptqCheckpointFormat.V1)
            Assert.That(q.Model.Blocks.SelectMany(blk => blk.Linears.Values).All(m => !m.Zeros.Contains(0)), "v1: every zero is ≥ 1");
    }

    /// <summary>
    /// v1 cannot store a zero point of 0: the pipeline clamps each to 1 (V1Zeros.ClampToOne) and counts them. RTN at W2 g32
    /// has such groups on stories260K (rows of a group with no negative weight); RTN is independent of calibration, so
    /// the v1 count is exactly the number of zeros v2 stores as 0, and every other value is the same.
    /// </summary>
    [Test]
    public void V1ClampsZeroPointsOfZeroAndCountsThem()
    {
        var v1 = StoriesSplit.Quantize("rtn", 2, 32, GptqCheckpointFormat.V1);
        var v2 = StoriesSplit.Quantize("rtn", 2, 32, GptqCheckpointFormat.V2);
        int zerosInV2 = v2.Model.Blocks.SelectMany(b => b.Linears.Values).Sum(m => m.Zeros.Count(z => z == 0));
        Assert.That(zerosInV2, Is.GreaterThan(0), "the case this test is about must occur");
        Assert.That(v1.Layers.Sum(l => l.ClampedGroups), Is.EqualTo(zerosInV2));
        Assert.That(v1.Model.Blocks.SelectMany(b => b.Linears.Values).All(m => !m.Zeros.Contains(0)));
        string outDir = Path.Combine(_dir, "v1");
        GptqCheckpointWriter.Write(v1.Model, outDir);
        using var source = (GptqCheckpoint)ModelLoader.Open(outDir);
        Assert.That(source.LoadMatrix(0, "mlp.down_proj").Zeros, Is.EqualTo(v1.Model.Blocks[0].Linears["mlp.down_proj"].Zeros));
    }

    [Test]
    public void AnInterruptedExportLeavesNothing()
    {
        var q = StoriesSplit.Quantize("rtn", 4, 32, GptqCheckpointFormat.V1);
        string outDir = Path.Combine(_dir, "q");
        int written = 0;
        Assert.Throws<InvalidOperationException>(() => GptqCheckpointWriter.Write(q.Model, outDir, afterTensor: _ =>
        {
            if (++written == 20) throw new InvalidOperationException("interrupted");
        }));
        Assert.That(Directory.Exists(outDir), Is.False);
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty, "no partial temporary directory is left behind");
    }

    [Test]
    public void AnExistingDirectoryIsRefusedUnlessOverwriting()
    {
        var q = StoriesSplit.Quantize("rtn", 4, -1, GptqCheckpointFormat.V2);
        string outDir = Path.Combine(_dir, "q");
        Directory.CreateDirectory(outDir);
        var e = Assert.Throws<QuantNativeException>(() => GptqCheckpointWriter.Write(q.Model, outDir));
        Assert.That(e!.Message, Does.Contain(outDir).And.Contain("already exists"));
        GptqCheckpointWriter.Write(q.Model, outDir, overwrite: true);
        Assert.That(File.Exists(Path.Combine(outDir, GptqQuantizeConfig.FileName)));
    }

    [Test]
    public void TheQuantizeConfigDescribesTheCheckpoint()
    {
        var q = StoriesSplit.Quantize("rtn", 3, 32, GptqCheckpointFormat.V2);
        string outDir = Path.Combine(_dir, "q");
        GptqCheckpointWriter.Write(q.Model, outDir);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, GptqQuantizeConfig.FileName)))!;
        Assert.That((int)json["bits"]!, Is.EqualTo(3));
        Assert.That((int)json["group_size"]!, Is.EqualTo(32));
        Assert.That((string)json["checkpoint_format"]!, Is.EqualTo("gptq_v2"));
        Assert.That((bool)json["sym"]!, Is.False);
        Assert.That((string)json["qn_method"]!, Is.EqualTo("rtn"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!;
        Assert.That((string)config["quantization_config"]!["quant_method"]!, Is.EqualTo("gptq"));
        using var file = SafetensorsFile.Open(Path.Combine(outDir, "model.safetensors"));
        Assert.That(file.Info("model.layers.0.mlp.down_proj.qweight").DType, Is.EqualTo("I32"));
        Assert.That(file.Info("model.layers.0.mlp.down_proj.qweight").Shape, Is.EqualTo(new long[] { 17, 64 }), "172·3/32 rounded up");
        Assert.That(file.Info("model.layers.0.mlp.down_proj.scales").DType, Is.EqualTo("F16"));
        Assert.That(file.Info("model.layers.0.mlp.down_proj.scales").Shape, Is.EqualTo(new long[] { 6, 64 }), "5 groups of 32 and one of 12");
        Assert.That(file.Info("model.embed_tokens.weight").DType, Is.EqualTo("F32"), "llama2.c's dtype, copied");
    }

    /// <summary>Non-quantized tensors keep the source's dtype: an F16 Hugging Face model exports F16 embeddings and norms.</summary>
    [Test]
    public void NonQuantizedTensorsKeepTheirSourceDType()
    {
        string hf = Path.Combine(_dir, "hf16");
        using (var llama2c = StoriesSplit.Open())
            QuantNative.Formats.HuggingFace.HuggingFaceWriter.Write(llama2c, hf, FloatDType.F16);
        QuantizationResult q;
        using (var source = ModelLoader.Open(hf))
            q = SequentialQuantizer.Run(source, null, new RtnLayerQuantizer(), new QuantizerConfig(4, 32), GptqCheckpointFormat.V2);
        string outDir = Path.Combine(_dir, "q");
        GptqCheckpointWriter.Write(q.Model, outDir);
        using (var file = SafetensorsFile.Open(Path.Combine(outDir, "model.safetensors")))
        {
            Assert.That(file.Info("model.embed_tokens.weight").DType, Is.EqualTo("F16"));
            Assert.That(file.Info("model.layers.3.post_attention_layernorm.weight").DType, Is.EqualTo("F16"));
            Assert.That(file.Info("model.norm.weight").DType, Is.EqualTo("F16"));
        }
        using var reloaded = ModelLoader.Open(outDir);
        Assert.That(reloaded.LoadTokenEmbedding(), Is.EqualTo(q.Model.TokenEmbedding), "F16 → fp32 → F16 is exact");
    }

    private string ExportRtn()
    {
        var q = StoriesSplit.Quantize("rtn", 4, 32, GptqCheckpointFormat.V2);
        string outDir = Path.Combine(_dir, "q");
        GptqCheckpointWriter.Write(q.Model, outDir);
        return outDir;
    }

    /// <summary>Sets <paramref name="field"/> in quantize_config.json and, so that the two still agree (a
    /// contradiction is refused first), in config.json's quantization_config.</summary>
    private static void EditQuantizeConfig(string dir, string field, JsonNode value)
    {
        string path = Path.Combine(dir, GptqQuantizeConfig.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json[field] = value;
        File.WriteAllText(path, json.ToJsonString());
        string config = Path.Combine(dir, "config.json");
        var c = JsonNode.Parse(File.ReadAllText(config))!;
        c["quantization_config"]![field] = value.DeepClone();
        File.WriteAllText(config, c.ToJsonString());
    }

    [Test]
    public void UnsupportedBitsAreRefused()
    {
        string dir = ExportRtn();
        EditQuantizeConfig(dir, "bits", 5);
        var e = Assert.Throws<QuantNativeException>(() => ModelLoader.Open(dir).Dispose());
        Assert.That(e!.Message, Does.Contain("bits = 5").And.Contain(GptqQuantizeConfig.FileName));
    }

    [Test]
    public void MisshapenTensorsAreRefused()
    {
        string dir = ExportRtn();
        EditQuantizeConfig(dir, "group_size", 16);
        var e = Assert.Throws<QuantNativeException>(() => ModelLoader.Open(dir).Dispose());
        Assert.That(e!.Message, Does.Contain("model.layers.0.self_attn.q_proj.qzeros").And.Contain("expected [4, 8]"));
    }

    [Test]
    public void AMissingQuantizedTensorIsRefused()
    {
        string dir = ExportRtn();
        string weights = Path.Combine(dir, "model.safetensors");
        const string dropped = "model.layers.2.mlp.up_proj.scales";
        List<(SafetensorsTensorSpec Spec, byte[] Bytes)> kept;
        using (var file = SafetensorsFile.Open(weights))
            kept = file.Tensors.Where(t => t.Name != dropped)
                .Select(t => (new SafetensorsTensorSpec(t.Name, t.DType, t.Shape), file.ReadBytes(t.Name))).ToList();
        using (var writer = new SafetensorsWriter(weights, kept.Select(k => k.Spec).ToList()))
        {
            foreach (var (spec, bytes) in kept) writer.WriteBytes(spec.Name, bytes);
            writer.Commit();
        }
        var e = Assert.Throws<QuantNativeException>(() => ModelLoader.Open(dir).Dispose());
        Assert.That(e!.Message, Does.Contain(dropped).And.Contain("not found"));
    }

    /// <summary>As for Hugging Face checkpoints: a config declaring fewer layers than the GPTQ checkpoint holds would
    /// run (and re-export) a truncated model; it is refused naming the tensor and the field.</summary>
    [Test]
    public void LayersTheConfigDoesNotDeclareAreRefused()
    {
        string dir = ExportRtn();
        string configPath = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        int layers = (int)config["num_hidden_layers"]!;
        config["num_hidden_layers"] = layers - 1;
        File.WriteAllText(configPath, config.ToJsonString());
        var e = Assert.Throws<QuantNativeException>(() => ModelLoader.Open(dir).Dispose());
        Assert.That(e!.Message, Does.Contain($"model.layers.{layers - 1}.").And.Contain($"num_hidden_layers is {layers - 1}"));
    }
}
