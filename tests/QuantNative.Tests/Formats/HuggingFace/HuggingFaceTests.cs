using System.Text.Json;
using System.Text.Json.Nodes;
using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Llama2c;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;
using QuantNative.Tests.Formats.Llama2c;

namespace QuantNative.Tests.Formats.HuggingFace;

public class HuggingFaceTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    // ---- llama2.c → Hugging Face ----

    [TestCaseSource(typeof(RandomModels), nameof(RandomModels.Configs))]
    public void Llama2cToHuggingFaceF32KeepsEveryTensor(LlamaConfig config)
    {
        using var llama2c = WriteLlama2c(config);
        string outDir = Path.Combine(_dir, "hf");
        HuggingFaceWriter.Write(llama2c, outDir);

        Assert.That(File.Exists(Path.Combine(outDir, HuggingFaceCheckpoint.SingleFileName)));
        Assert.That(File.Exists(Path.Combine(outDir, HuggingFaceCheckpoint.IndexFileName)), Is.False);
        using var hf = HuggingFaceCheckpoint.Open(outDir);
        Assert.That(hf.Format, Is.EqualTo("huggingface"));
        RandomModels.AssertSameWeights(llama2c, hf);
        using var st = SafetensorsFile.Open(Path.Combine(outDir, HuggingFaceCheckpoint.SingleFileName));
        Assert.That(st.Contains(HuggingFaceNames.Output), Is.EqualTo(!config.TieWordEmbeddings), "lm_head only when untied");
        Assert.That(st.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(hf.Tensors.Select(t => t.Name), Is.EquivalentTo(HuggingFaceNames.Expected(config).Select(t => t.Name)));
        Assert.That(Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "model.bin", "hf" }),
            "no temporary directory left");
    }

    [TestCase(FloatDType.F32)]
    [TestCase(FloatDType.F16)]
    [TestCase(FloatDType.BF16)]
    public void ShardedCheckpointHoldsEveryTensorRoundedToItsDType(FloatDType dtype)
    {
        var config = RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: false);
        using var llama2c = WriteLlama2c(config);
        long total = HuggingFaceNames.Expected(config).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)) * dtype.ByteSize();
        long maxShard = total / 5;
        string outDir = Path.Combine(_dir, "hf");
        HuggingFaceWriter.Write(llama2c, outDir, dtype, maxShardBytes: maxShard);

        Assert.That(File.Exists(Path.Combine(outDir, HuggingFaceCheckpoint.SingleFileName)), Is.False);
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, HuggingFaceCheckpoint.IndexFileName)));
        Assert.That(index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64(), Is.EqualTo(total));
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.That(weightMap.Keys, Is.EquivalentTo(HuggingFaceNames.Expected(config).Select(t => t.Name)));
        var shards = weightMap.Values.Distinct().Order().ToList();
        Assert.That(shards, Has.Count.GreaterThanOrEqualTo(5));
        Assert.That(shards, Is.EqualTo(Enumerable.Range(1, shards.Count).Select(k => $"model-{k:D5}-of-{shards.Count:D5}.safetensors")));
        foreach (var shard in shards)
        {
            using var st = SafetensorsFile.Open(Path.Combine(outDir, shard));
            Assert.That(st.Tensors.Select(t => t.Name), Is.EquivalentTo(weightMap.Where(p => p.Value == shard).Select(p => p.Key)), shard);
            long bytes = st.Tensors.Sum(t => t.ElementCount) * dtype.ByteSize();
            Assert.That(bytes <= maxShard || st.Tensors.Count == 1, $"{shard}: {bytes} bytes over the {maxShard} limit");
            Assert.That(st.Tensors.Select(t => t.DType), Is.All.EqualTo(dtype.ToString()));
        }

        using var hf = HuggingFaceCheckpoint.Open(outDir);
        Func<float, float>? round = dtype == FloatDType.F32 ? null : ReferenceRounding.For(dtype).Round;
        RandomModels.AssertSameWeights(llama2c, hf, round);
        using var config2 = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "config.json")));
        Assert.That(config2.RootElement.GetProperty("torch_dtype").GetString(), Is.EqualTo(dtype.TorchName()));
    }

    /// <summary>A config.json declaring fewer layers than the checkpoint holds is refused (it used to run the model
    /// with the extra layers dropped), naming the field and the layer.</summary>
    [Test]
    public void ACheckpointWithLayersTheConfigDoesNotDeclareIsRefused()
    {
        var config = RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: false);
        using var llama2c = WriteLlama2c(config);
        string outDir = Path.Combine(_dir, "hf");
        HuggingFaceWriter.Write(llama2c, outDir, FloatDType.F32);
        string configPath = Path.Combine(outDir, "config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2"));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(outDir));
        Assert.That(e!.Message, Does.Contain("model.layers.2.").And.Contain("num_hidden_layers is 2"));
    }

    /// <summary>The Hugging Face cache layout: every file of snapshots/&lt;rev&gt;/ is a relative symbolic link into
    /// blobs/ (here with a sharded checkpoint). The snapshot opens with the targets' sizes, not the links'.</summary>
    [Test]
    public void ACacheSnapshotOfSymbolicLinksOpens()
    {
        var config = RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: false);
        using var llama2c = WriteLlama2c(config);
        string written = Path.Combine(_dir, "written");
        HuggingFaceWriter.Write(llama2c, written, FloatDType.BF16, maxShardBytes: 4000);
        string repo = Path.Combine(_dir, "models--qn--tiny"), blobs = Path.Combine(repo, "blobs");
        string snapshot = Path.Combine(repo, "snapshots", "0123abcd");
        Directory.CreateDirectory(blobs);
        Directory.CreateDirectory(snapshot);
        var files = Directory.GetFiles(written);
        Assert.That(files.Count(f => f.EndsWith(".safetensors")), Is.GreaterThan(1), "sharded");
        foreach (var file in files)
        {
            string blob = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));
            File.Move(file, Path.Combine(blobs, blob));
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", blob));
        }
        Assert.That(new FileInfo(Path.Combine(snapshot, "config.json")).LinkTarget, Is.Not.Null);

        using var hf = HuggingFaceCheckpoint.Open(snapshot);
        RandomModels.AssertSameWeights(llama2c, hf, ReferenceRounding.For(FloatDType.BF16).Round);
    }

    [Test]
    public void Stories260KTensorsKeepTheirValuesUnderTransformersNames()
    {
        string outDir = Path.Combine(_dir, "hf");
        using (var model = Llama2cCheckpoint.Open(TestPaths.Stories260K))
            HuggingFaceWriter.Write(model, outDir);
        var raw = new Llama2cFile(TestPaths.Stories260K);  // the test's own reading of the .bin
        int dim = raw.Header[0], heads = raw.Header[3], kvHeads = raw.Header[4], headDim = dim / heads;

        using var st = SafetensorsFile.Open(Path.Combine(outDir, "model.safetensors"));
        RandomModels.AssertBits(raw.Arrays["token_embedding_table"], st.ReadFloats("model.embed_tokens.weight"), "embedding");
        RandomModels.AssertBits(raw.Arrays["rms_final_weight"], st.ReadFloats("model.norm.weight"), "final norm");
        Assert.That(st.Contains("lm_head.weight"), Is.False, "stories260K ties its classifier");
        for (int i = 0; i < raw.Header[2]; i++)
        {
            float[] Hf(string part) => st.ReadFloats($"model.layers.{i}.{part}.weight");
            RandomModels.AssertBits(raw.Layer("rms_att_weight", i), Hf("input_layernorm"), "input_layernorm");
            RandomModels.AssertBits(raw.Layer("rms_ffn_weight", i), Hf("post_attention_layernorm"), "post_attention_layernorm");
            RandomModels.AssertBits(raw.Layer("w1", i), Hf("mlp.gate_proj"), "gate");
            RandomModels.AssertBits(raw.Layer("w3", i), Hf("mlp.up_proj"), "up");
            RandomModels.AssertBits(raw.Layer("w2", i), Hf("mlp.down_proj"), "down");
            RandomModels.AssertBits(raw.Layer("wv", i), Hf("self_attn.v_proj"), "v");
            RandomModels.AssertBits(raw.Layer("wo", i), Hf("self_attn.o_proj"), "o");
            Llama2cTests.AssertRotateHalfOf(raw.Layer("wq", i), Hf("self_attn.q_proj"), heads, headDim, dim, "q");
            Llama2cTests.AssertRotateHalfOf(raw.Layer("wk", i), Hf("self_attn.k_proj"), kvHeads, headDim, dim, "k");
        }

        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "config.json")));
        var c = config.RootElement;
        Assert.That(c.GetProperty("model_type").GetString(), Is.EqualTo("llama"));
        Assert.That(c.GetProperty("architectures")[0].GetString(), Is.EqualTo("LlamaForCausalLM"));
        Assert.That(new[] { "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "vocab_size", "max_position_embeddings" }.Select(f => c.GetProperty(f).GetInt32()),
            Is.EqualTo(raw.Header.Take(6).Append(raw.Header[6])));
        Assert.That(c.GetProperty("rms_norm_eps").GetDouble(), Is.EqualTo(1e-5));
        Assert.That(c.GetProperty("rope_theta").GetDouble(), Is.EqualTo(10000.0));
        Assert.That(c.GetProperty("tie_word_embeddings").GetBoolean(), Is.True);
        Assert.That(c.GetProperty("bos_token_id").GetInt32(), Is.EqualTo(1));
        Assert.That(c.GetProperty("eos_token_id").GetInt32(), Is.EqualTo(2));
    }

    [Test]
    public void ConfigDefaultsFollowTransformers()
    {
        // Multi-head model: num_key_value_heads may be omitted; eps and theta take Transformers' defaults.
        var config = RandomModels.Config(20, 11, 2, 2, 2, 7, 5, tied: false);
        string dir = WriteHf(config);
        EditConfig(dir, c => { c.Remove("num_key_value_heads"); c.Remove("rms_norm_eps"); c.Remove("rope_theta"); c.Remove("tie_word_embeddings"); });
        using var hf = HuggingFaceCheckpoint.Open(dir);
        Assert.That(hf.Config.Maths(), Is.EqualTo((config with { RmsNormEps = 1e-6f }).Maths()));
    }

    [Test]
    public void TiedDefaultIsFalseSoAMissingLmHeadIsReported()
    {
        string dir = WriteHf(RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true));
        EditConfig(dir, c => c.Remove("tie_word_embeddings"));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain("'lm_head.weight'").And.Contain(Path.Combine(dir, "model.safetensors")));
    }

    // ---- the writer's directory handling ----

    [Test]
    public void ExtraFilesAreInTheFinishedDirectory()
    {
        var bytes = new byte[] { 1, 2, 3, 250 };
        string outDir = Path.Combine(_dir, "hf");
        using var source = RandomModels.Create(RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true), 1);
        HuggingFaceWriter.Write(source, outDir, extraFiles:
            [new ExtraFile("tokenizer.model", s => s.Write(bytes)), ExtraFile.CopyOf(TestPaths.Tok512)]);
        Assert.That(File.ReadAllBytes(Path.Combine(outDir, "tokenizer.model")), Is.EqualTo(bytes));
        Assert.That(File.ReadAllBytes(Path.Combine(outDir, "tok512.bin")), Is.EqualTo(File.ReadAllBytes(TestPaths.Tok512)));
    }

    [TestCase("config.json")]
    [TestCase("model.safetensors")]
    [TestCase("../escape.txt")]
    [TestCase("")]
    public void ExtraFileNamesThatClashOrEscapeAreRefused(string name)
    {
        string outDir = Path.Combine(_dir, "hf");
        using var source = RandomModels.Create(RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true), 1);
        var e = Assert.Throws<QuantNativeException>(() =>
            HuggingFaceWriter.Write(source, outDir, extraFiles: [new ExtraFile(name, _ => { })]));
        Assert.That(e!.Message, Does.Contain($"'{name}'"));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    [Test]
    public void ExistingOutputIsRefusedUnlessOverwriteIsAsked()
    {
        string outDir = Path.Combine(_dir, "hf");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "old.txt"), "old");
        using var source = RandomModels.Create(RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true), 1);

        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceWriter.Write(source, outDir));
        Assert.That(e!.Message, Does.Contain(outDir).And.Contain("already exists"));
        Assert.That(File.Exists(Path.Combine(outDir, "old.txt")));

        HuggingFaceWriter.Write(source, outDir, overwrite: true);
        Assert.That(File.Exists(Path.Combine(outDir, "old.txt")), Is.False);
        using var hf = HuggingFaceCheckpoint.Open(outDir);
        RandomModels.AssertSameWeights(source, hf);
        Assert.That(Directory.GetFileSystemEntries(_dir), Has.Length.EqualTo(1), "no temporary or set-aside directory left");
    }

    [TestCase("extra_file_fails", false)]
    [TestCase("source_fails_mid_shards", false)]
    [TestCase("source_fails_mid_shards", true)]
    public void InterruptedWriteLeavesNoPartialDirectory(string how, bool existing)
    {
        string outDir = Path.Combine(_dir, "hf");
        if (existing)
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllText(Path.Combine(outDir, "old.txt"), "old");
        }
        var before = Directory.GetFileSystemEntries(_dir);
        var config = RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: false);
        IModelSource source = RandomModels.Create(config, 4);
        if (how == "source_fails_mid_shards") source = new FailingSource(source, failAtLayer: 2);
        var extras = how == "extra_file_fails"
            ? new[] { new ExtraFile("tokenizer.json", s => { s.WriteByte(1); throw new IOException("simulated disk full"); }) }
            : [];

        var e = Assert.Throws<QuantNativeException>(() =>
            HuggingFaceWriter.Write(source, outDir, FloatDType.F16, maxShardBytes: 2000, overwrite: existing, extraFiles: extras));
        Assert.That(e!.Message, Does.Contain(outDir).And.Contain("simulated"));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.EquivalentTo(before), "nothing added beside the output");
        if (existing)
            Assert.That(Directory.GetFileSystemEntries(outDir).Select(Path.GetFileName), Is.EqualTo(new[] { "old.txt" }));
        else
            Assert.That(Directory.Exists(outDir), Is.False);
        source.Dispose();
    }

    // ---- broken checkpoints ----

    [TestCase("hidden_size")]
    [TestCase("intermediate_size")]
    [TestCase("num_hidden_layers")]
    [TestCase("num_attention_heads")]
    [TestCase("vocab_size")]
    [TestCase("max_position_embeddings")]
    [TestCase("model_type")]
    public void ConfigMissingARequiredFieldNamesIt(string field)
    {
        string dir = WriteHf(RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true));
        EditConfig(dir, c => c.Remove(field));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain(Path.Combine(dir, "config.json")).And.Contain($"'{field}'"));
    }

    [TestCase("model_type", "\"falcon\"", "model_type \"falcon\" is not supported")]
    [TestCase("hidden_size", "\"12\"", "must be an integer")]
    [TestCase("tie_word_embeddings", "1", "true or false")]
    [TestCase("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0}", "rope_scaling")]
    [TestCase("head_dim", "7", "head_dim")]
    [TestCase("num_key_value_heads", "2", "multiple of num_key_value_heads")]
    public void ConfigWithAnUnsupportedValueIsRejected(string field, string json, string expected)
    {
        string dir = WriteHf(RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true));
        EditConfig(dir, c => c[field] = JsonNode.Parse(json));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain(Path.Combine(dir, "config.json")).And.Contain(expected));
    }

    [Test]
    public void MissingTensorNamesTensorAndFile()
    {
        string dir = WriteHf(RandomModels.Config(20, 11, 2, 2, 2, 7, 5, tied: false));
        EditWeights(dir, (name, dtype, shape, bytes) => name == "model.layers.1.mlp.up_proj.weight" ? null : (dtype, shape, bytes));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain("'model.layers.1.mlp.up_proj.weight'").And.Contain(Path.Combine(dir, "model.safetensors")));
    }

    [Test]
    public void MisshapenTensorNamesTensorFileAndBothShapes()
    {
        string dir = WriteHf(RandomModels.Config(20, 11, 2, 2, 2, 7, 5, tied: false));
        EditWeights(dir, (name, dtype, shape, bytes) =>
            name == "model.layers.0.mlp.gate_proj.weight" ? (dtype, shape.Reverse().ToArray(), bytes) : (dtype, shape, bytes));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain("'model.layers.0.mlp.gate_proj.weight'").And.Contain(Path.Combine(dir, "model.safetensors"))
            .And.Contain("[20, 11]").And.Contain("expected [11, 20]"));
    }

    [Test]
    public void UnsupportedDTypeNamesDTypeTensorAndFile()
    {
        string dir = WriteHf(RandomModels.Config(20, 11, 2, 2, 2, 7, 5, tied: false));
        EditWeights(dir, (name, dtype, shape, bytes) => name == "model.norm.weight" ? ("I32", shape, bytes) : (dtype, shape, bytes));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Is.EqualTo(
            $"unsupported dtype I32 for tensor 'model.norm.weight' in {Path.Combine(dir, "model.safetensors")} (expected F32, F16 or BF16)"));
    }

    [Test]
    public void MissingWeightsFileIsReported()
    {
        string dir = WriteHf(RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true));
        File.Delete(Path.Combine(dir, "model.safetensors"));
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain(dir).And.Contain("model.safetensors"));
    }

    [Test]
    public void MissingShardIsNamed()
    {
        string dir = WriteHf(RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: true), maxShardBytes: 4000);
        string shard = Directory.GetFiles(dir, "model-00002-of-*.safetensors").Single();
        File.Delete(shard);
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain(shard).And.Contain("not found"));
    }

    [Test]
    public void IndexPointingAtTheWrongShardNamesTensorAndShard()
    {
        string dir = WriteHf(RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: true), maxShardBytes: 4000);
        string index = Path.Combine(dir, HuggingFaceCheckpoint.IndexFileName);
        var json = JsonNode.Parse(File.ReadAllText(index))!;
        string first = Path.GetFileName(Directory.GetFiles(dir, "model-00001-of-*.safetensors").Single());
        json["weight_map"]!["model.norm.weight"] = first;
        File.WriteAllText(index, json.ToJsonString());
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain("'model.norm.weight'").And.Contain(Path.Combine(dir, first)));
    }

    [Test]
    public void IndexNamingAFileOutsideTheDirectoryIsRefused()
    {
        string dir = WriteHf(RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: true), maxShardBytes: 4000);
        string index = Path.Combine(dir, HuggingFaceCheckpoint.IndexFileName);
        var json = JsonNode.Parse(File.ReadAllText(index))!;
        json["weight_map"]!["model.norm.weight"] = "../elsewhere.safetensors";
        File.WriteAllText(index, json.ToJsonString());
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain(index).And.Contain("model.norm.weight"));
    }

    [Test]
    public void MissingDirectoryIsReported()
    {
        string dir = Path.Combine(_dir, "absent");
        var e = Assert.Throws<QuantNativeException>(() => HuggingFaceCheckpoint.Open(dir));
        Assert.That(e!.Message, Does.Contain(dir).And.Contain("not found"));
    }

    // ---- helpers ----

    private Llama2cCheckpoint WriteLlama2c(LlamaConfig config)
    {
        string path = Path.Combine(_dir, "model.bin");
        using (var source = RandomModels.Create(config, seed: config.IntermediateSize))
            Llama2cWriter.Write(source, path);
        return Llama2cCheckpoint.Open(path);
    }

    private string WriteHf(LlamaConfig config, long? maxShardBytes = null)
    {
        string dir = Path.Combine(_dir, "hf");
        using var source = RandomModels.Create(config, seed: 9);
        HuggingFaceWriter.Write(source, dir, maxShardBytes: maxShardBytes);
        return dir;
    }

    private static void EditConfig(string dir, Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    /// <summary>Rewrites model.safetensors tensor by tensor; <paramref name="edit"/> returns null to drop one.</summary>
    private static void EditWeights(string dir, Func<string, string, long[], byte[], (string DType, long[] Shape, byte[] Bytes)?> edit)
    {
        string path = Path.Combine(dir, "model.safetensors");
        var tensors = new List<(string Name, string DType, long[] Shape, byte[] Bytes)>();
        using (var file = SafetensorsFile.Open(path))
            foreach (var t in file.Tensors)
                if (edit(t.Name, t.DType, t.Shape, file.ReadBytes(t.Name)) is var (dtype, shape, bytes))
                    tensors.Add((t.Name, dtype, shape, bytes));
        using var writer = new SafetensorsWriter(path, tensors.Select(t => new SafetensorsTensorSpec(t.Name, t.DType, t.Shape)).ToList());
        foreach (var t in tensors) writer.WriteBytes(t.Name, t.Bytes);
        writer.Commit();
    }
}
