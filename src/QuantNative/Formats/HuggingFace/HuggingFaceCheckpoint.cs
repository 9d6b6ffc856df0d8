using System.Text.Json;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;

namespace QuantNative.Formats.HuggingFace;

/// <summary>
/// A Hugging Face LLaMA checkpoint directory: config.json plus model.safetensors, or shards listed by
/// model.safetensors.index.json. Every shard is opened (memory-mapped) once; on open, every tensor the model needs is
/// checked for presence, shape and dtype from the headers alone, so a broken checkpoint fails before any work.
/// Weights are already in the internal layout (rotate-half RoPE, [out, in]); F16/BF16 are widened to fp32.
/// </summary>
public sealed class HuggingFaceCheckpoint : IModelSource
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _fileOf;

    public string Path { get; }
    public string Format => "huggingface";
    public LlamaConfig Config { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }

    private HuggingFaceCheckpoint(string path, LlamaConfig config, List<SafetensorsFile> files,
                                  Dictionary<string, SafetensorsFile> fileOf)
    {
        Path = path;
        Config = config;
        _files = files;
        _fileOf = fileOf;
        Tensors = files.SelectMany(f => f.Tensors).ToArray();
    }

    public static HuggingFaceCheckpoint Open(string directory)
    {
        if (!Directory.Exists(directory))
            throw new QuantNativeException($"{directory}: Hugging Face checkpoint directory not found");
        var config = HuggingFaceConfig.Read(System.IO.Path.Combine(directory, HuggingFaceConfig.FileName));

        var files = new List<SafetensorsFile>();
        try
        {
            var fileOf = OpenWeights(directory, files);
            foreach (var expected in HuggingFaceNames.Expected(config))
                CheckTensor(directory, expected, fileOf);
            RefuseUnaccounted(directory, config, fileOf.Keys, HuggingFaceNames.Expected(config).Select(t => t.Name));
            return new HuggingFaceCheckpoint(directory, config, files, fileOf);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    public float[] LoadTokenEmbedding() => Load(HuggingFaceNames.Embedding);

    public float[] LoadFinalNorm() => Load(HuggingFaceNames.FinalNorm);

    // Transformers ignores a stored lm_head when the config ties it, and so do we.
    public float[] LoadOutput() => Load(Config.TieWordEmbeddings ? HuggingFaceNames.Embedding : HuggingFaceNames.Output);

    public LlamaBlockWeights LoadBlock(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Config.NumLayers);
        float[] Part(string part) => Load(HuggingFaceNames.Block(layer, part));
        var block = new LlamaBlockWeights
        {
            AttnNorm = Part("input_layernorm"),
            Wq = Part("self_attn.q_proj"),
            Wk = Part("self_attn.k_proj"),
            Wv = Part("self_attn.v_proj"),
            Wo = Part("self_attn.o_proj"),
            FfnNorm = Part("post_attention_layernorm"),
            WGate = Part("mlp.gate_proj"),
            WUp = Part("mlp.up_proj"),
            WDown = Part("mlp.down_proj"),
            Extras = BlockExtraParts.Load(Config, part => Load(HuggingFaceNames.Extra(layer, part.Part))),
        };
        block.Validate(Config, layer, Path);
        return block;
    }

    private float[] Load(string name) => _fileOf[name].ReadFloats(name);

    /// <summary>Tensor <paramref name="name"/> left mapped in its dtype (valid while this checkpoint is open).</summary>
    public MappedTensor Map(string name) => _fileOf.TryGetValue(name, out var file)
        ? file.Map(name)
        : throw new QuantNativeException($"{Path}: tensor '{name}' not found");

    /// <summary>Opens the single file or every shard of the index; maps each tensor name to the file holding it.</summary>
    /// <summary>
    /// Every stored tensor must be one the config accounts for (DESIGN.md §5), so that a config declaring fewer layers
    /// than the checkpoint holds, or a tensor the forward pass would silently drop (a q/k/v bias under an architecture
    /// without them), is an error rather than a different model. Two kinds are known to be ignorable: a stored lm_head
    /// when the config ties it to the embedding (Transformers ignores it too), and the rotary inv_freq buffers older
    /// exports carry (recomputed from the config).
    /// </summary>
    internal static void RefuseUnaccounted(string directory, LlamaConfig config, IEnumerable<string> names,
        IEnumerable<string> expectedNames)
    {
        var expected = expectedNames.ToHashSet();
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            if (expected.Contains(name) || (name == HuggingFaceNames.Output && config.TieWordEmbeddings) ||
                name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal))
                continue;
            var layer = System.Text.RegularExpressions.Regex.Match(name, @"^model\.layers\.(\d+)\.");
            string why = layer.Success && int.Parse(layer.Groups[1].Value) >= config.NumLayers
                ? $"config.json's num_hidden_layers is {config.NumLayers}, and the checkpoint has layer {layer.Groups[1].Value}"
                : name.EndsWith(".bias", StringComparison.Ordinal)
                    ? $"model_type {config.Identity.ModelType} takes no such bias" +
                      (config.Identity.ModelType is "llama" or "qwen3" ? " without attention_bias" : "")
                    : $"not a tensor of a {config.Identity.ModelType} model";
            throw new QuantNativeException($"{directory}: tensor {name} is not accounted for by config.json ({why}); " +
                                           "refusing rather than running a different model than the checkpoint holds");
        }
    }

    internal static Dictionary<string, SafetensorsFile> OpenWeights(string directory, List<SafetensorsFile> files)
    {
        string index = System.IO.Path.Combine(directory, IndexFileName);
        string single = System.IO.Path.Combine(directory, SingleFileName);
        var fileOf = new Dictionary<string, SafetensorsFile>();
        if (File.Exists(index))
        {
            var byShard = new Dictionary<string, SafetensorsFile>();
            foreach (var (tensor, shard) in ReadWeightMap(index))
            {
                if (!byShard.TryGetValue(shard, out var file))
                {
                    file = SafetensorsFile.Open(System.IO.Path.Combine(directory, shard));
                    files.Add(file);
                    byShard[shard] = file;
                }
                fileOf[tensor] = file;
            }
        }
        else if (File.Exists(single))
        {
            var file = SafetensorsFile.Open(single);
            files.Add(file);
            foreach (var t in file.Tensors) fileOf[t.Name] = file;
        }
        else
        {
            throw new QuantNativeException(
                $"{directory}: found neither {SingleFileName} nor {IndexFileName} (only safetensors weights are supported)");
        }
        return fileOf;
    }

    private static List<(string Tensor, string Shard)> ReadWeightMap(string index)
    {
        {
            using var doc = JsonInput.ParseFile(index);
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new QuantNativeException($"{index}: expected an object with a 'weight_map' object");
            var result = new List<(string, string)>();
            foreach (var p in map.EnumerateObject())
            {
                string? shard = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
                // A shard is a file beside the index; anything else would read outside the checkpoint.
                if (string.IsNullOrEmpty(shard) || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                    throw new QuantNativeException(
                        $"{index}: weight_map entry for '{p.Name}' must name a file in the same directory, got {p.Value.GetRawText()}");
                result.Add((p.Name, shard));
            }
            return result;
        }
    }

    private static void CheckTensor(string directory, HuggingFaceTensor expected, Dictionary<string, SafetensorsFile> fileOf)
    {
        if (!fileOf.TryGetValue(expected.Name, out var file))
        {
            string where = File.Exists(System.IO.Path.Combine(directory, IndexFileName))
                ? $"the weight_map of {System.IO.Path.Combine(directory, IndexFileName)}"
                : System.IO.Path.Combine(directory, SingleFileName);
            throw new QuantNativeException($"tensor '{expected.Name}' not found in {where}");
        }
        if (!file.Contains(expected.Name))
            throw new QuantNativeException(
                $"tensor '{expected.Name}' not found in {file.Path} (the index maps it to that shard)");
        var info = file.Info(expected.Name);
        if (!FloatDTypeExtensions.TryParseSafetensors(info.DType, out _))
            throw new QuantNativeException(SafetensorsFile.UnsupportedDType(info.DType, expected.Name, file.Path));
        if (!info.Shape.SequenceEqual(expected.Shape))
            throw new QuantNativeException(
                $"tensor '{expected.Name}' in {file.Path} has shape [{string.Join(", ", info.Shape)}], " +
                $"expected [{string.Join(", ", expected.Shape)}]");
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
