using System.Text.Json.Nodes;
using NUnit.Framework;
using QuantNative.Formats.HuggingFace;
using QuantNative.Model;
using QuantNative.Tests.Inference;

namespace QuantNative.Tests.Formats.HuggingFace;

/// <summary>
/// config.json of each family as Transformers writes it (the synthetic checkpoints' files, edited): the fields each
/// family defaults, both RoPE spellings, and every field that changes the maths without being implemented refused by
/// name.
/// </summary>
public class ConfigFamilyTests
{
    private string _dir = "";
    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    private LlamaConfig Read(string family, Action<JsonObject>? edit = null)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(SyntheticFamilies.Dir(family), "config.json")))!.AsObject();
        edit?.Invoke(json);
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, json.ToJsonString());
        return HuggingFaceConfig.Read(path);
    }

    private string Refused(string family, Action<JsonObject> edit) =>
        Assert.Throws<QuantNativeException>(() => Read(family, edit))!.Message;

    [Test]
    public void EachFamilyReadsAsTransformersBuildsIt()
    {
        var llama3 = Read("llama3");
        Assert.That((llama3.Identity.ModelType, llama3.Identity.Architecture, llama3.RopeScaling.Type, llama3.RopeScaling.Factor,
                llama3.RopeScaling.OriginalMaxPositions, llama3.Identity.BosTokenId, llama3.Identity.EosTokenIds.Single()),
            Is.EqualTo(("llama", "LlamaForCausalLM", RopeType.Llama3, 32.0, 8192, (int?)128000, 128009)));
        var mistral = Read("mistral");
        Assert.That((mistral.Identity.ModelType, mistral.SlidingWindow, mistral.AttentionBias, mistral.TieWordEmbeddings),
            Is.EqualTo(("mistral", 48, false, false)));
        var qwen2 = Read("qwen2");
        Assert.That((qwen2.AttentionBias, qwen2.OutputBias, qwen2.QkNorm, qwen2.SlidingWindow, qwen2.Identity.BosTokenId,
            qwen2.RopeTheta), Is.EqualTo((true, false, false, 0, (int?)null, 1e6f)));
        var qwen3 = Read("qwen3");
        Assert.That((qwen3.HeadDim, qwen3.QDim, qwen3.QkNorm, qwen3.AttentionBias), Is.EqualTo((32, 128, true, false)));
    }

    [Test]
    public void FamilyDefaultsForAbsentFieldsFollowTransformers()
    {
        // Qwen3Config: head_dim 128, num_key_value_heads 32; MistralConfig: sliding_window 4096, 8 kv heads.
        var qwen3 = Read("qwen3", c => { c.Remove("head_dim"); c["num_attention_heads"] = 32; c.Remove("num_key_value_heads"); });
        Assert.That((qwen3.HeadDim, qwen3.NumKvHeads), Is.EqualTo((128, 32)));
        var mistral = Read("mistral", c => { c.Remove("sliding_window"); c["num_attention_heads"] = 8; c.Remove("num_key_value_heads"); });
        Assert.That((mistral.SlidingWindow, mistral.NumKvHeads), Is.EqualTo((4096, 8)));
        Assert.That(Read("mistral", c => c["sliding_window"] = null).SlidingWindow, Is.EqualTo(0));
        // num_key_value_heads: null means as many as the heads in every family.
        Assert.That(Read("qwen2", c => c["num_key_value_heads"] = null).NumKvHeads, Is.EqualTo(4));
        // head_dim absent in llama: hidden / heads.
        Assert.That(Read("llama3", c => c.Remove("head_dim")).HeadDim, Is.EqualTo(16));
    }

    [Test]
    public void AttentionBiasGivesLlamaAndQwen3FourBiasesAndMistralNone()
    {
        Assert.That(Read("llama3", c => c["attention_bias"] = true) is { AttentionBias: true, OutputBias: true });
        Assert.That(Read("qwen3", c => c["attention_bias"] = true) is { AttentionBias: true, OutputBias: true });
        Assert.That(Read("mistral", c => c["attention_bias"] = true) is { AttentionBias: false, OutputBias: false });
        Assert.That(Read("qwen2", c => c["attention_bias"] = false) is { AttentionBias: true, OutputBias: false });
    }

    [Test]
    public void TransformersFivesRopeParametersReadAsRopeScalingAndTheta()
    {
        var old = Read("llama3");
        var v5 = Read("llama3", c =>
        {
            var scaling = c["rope_scaling"]!.DeepClone().AsObject();
            scaling["rope_theta"] = 500000.0;
            c.Remove("rope_scaling");
            c.Remove("rope_theta");
            c["rope_parameters"] = scaling;
        });
        Assert.That(v5.Rope, Is.EqualTo(old.Rope));
        // Before: rope_parameters was ignored and rope_theta defaulted to 10000 without a word.
        Assert.That(Read("qwen2", c => { c.Remove("rope_theta"); c["rope_parameters"] = JsonNode.Parse("{\"rope_type\": \"default\", \"rope_theta\": 1000000.0}"); })
            .RopeTheta, Is.EqualTo(1e6f));
    }

    [TestCase("{\"rope_type\": \"default\"}", RopeType.Default, 1.0)]
    [TestCase("{\"type\": \"linear\", \"factor\": 4.0}", RopeType.Linear, 4.0)]
    [TestCase("{\"rope_type\": \"linear\", \"factor\": 2.0}", RopeType.Linear, 2.0)]
    public void RopeScalingSpellingsAreRead(string json, RopeType type, double factor)
    {
        var c = Read("qwen2", c => c["rope_scaling"] = JsonNode.Parse(json));
        Assert.That((c.RopeScaling.Type, c.RopeScaling.Factor), Is.EqualTo((type, factor)));
    }

    [TestCase("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}", "rope_type \"yarn\"")]
    [TestCase("rope_scaling", "{\"rope_type\": \"dynamic\", \"factor\": 2.0}", "rope_type \"dynamic\"")]
    [TestCase("rope_scaling", "{\"type\": \"longrope\", \"factor\": 2.0}", "rope_type \"longrope\"")]
    [TestCase("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0}", "low_freq_factor")]
    [TestCase("rope_scaling", "{\"rope_type\": \"linear\"}", "factor")]
    [TestCase("rope_parameters", "{\"rope_type\": \"yarn\", \"rope_theta\": 10000.0, \"factor\": 4.0}", "rope_type \"yarn\"")]
    [TestCase("model_type", "\"gemma\"", "model_type \"gemma\"")]
    [TestCase("architectures", "[\"Qwen2ForSequenceClassification\"]", "Qwen2ForSequenceClassification")]
    [TestCase("hidden_act", "\"gelu\"", "hidden_act")]
    [TestCase("mlp_bias", "true", "mlp_bias")]
    [TestCase("use_sliding_window", "true", "use_sliding_window")]
    [TestCase("layer_types", "[\"full_attention\", \"sliding_attention\"]", "layer_types")]
    [TestCase("partial_rotary_factor", "0.5", "partial_rotary_factor")]
    [TestCase("head_dim", "15", "head_dim")]
    public void FieldsThatChangeTheMathsButAreNotImplementedAreRefusedByName(string field, string json, string expected)
    {
        string message = Refused("qwen2", c => c[field] = JsonNode.Parse(json));
        Assert.That(message, Does.Contain(Path.Combine(_dir, "config.json")).And.Contain(expected));
    }

    [Test]
    public void Llama3FrequenciesKeepTheHighBandScaleTheLowAndBlendBetween()
    {
        var s = new RopeScaling(RopeType.Llama3, 32, 1, 4, 8192);
        var plain = RopeScaling.None.InverseFrequencies(128, 500000);
        var scaled = s.InverseFrequencies(128, 500000);
        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < plain.Length; i++)
        {
            double wavelength = 2 * Math.PI / plain[i];
            if (wavelength < 8192 / 4.0) { Assert.That(scaled[i], Is.EqualTo(plain[i])); kept++; }
            else if (wavelength > 8192 / 1.0) { Assert.That(scaled[i], Is.EqualTo(plain[i] / 32).Within(1e-15).Percent); divided++; }
            else { Assert.That(scaled[i], Is.InRange(plain[i] / 32, plain[i])); blended++; }
        }
        Assert.That((kept, divided, blended), Is.Not.EqualTo((plain.Length, 0, 0)), "the 8B shape has all three bands");
        Assert.That(kept > 0 && divided > 0 && blended > 0);
    }
}
