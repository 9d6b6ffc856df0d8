using System.Runtime.InteropServices;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// A GPTQ-format Hugging Face directory opened as a model (format "gptq"): config.json, quantize_config.json (or
/// config.json's quantization_config) and safetensors with qweight/qzeros/scales/g_idx per block linear. Every tensor is
/// checked for presence, dtype and shape on open; a block is unpacked (<see cref="GptqPacker.Unpack"/>) and dequantized
/// to fp32 when it is loaded, so evaluation and generation run on it unchanged.
/// </summary>
public sealed class GptqCheckpoint : IModelSource
{
    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _fileOf;

    public string Path { get; }
    public string Format => "gptq";
    public LlamaConfig Config { get; }
    public GptqQuantizeConfig Quantization { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }

    private GptqCheckpoint(string path, LlamaConfig config, GptqQuantizeConfig quantization, List<SafetensorsFile> files,
        Dictionary<string, SafetensorsFile> fileOf)
    {
        (Path, Config, Quantization, _files, _fileOf) = (path, config, quantization, files, fileOf);
        Tensors = files.SelectMany(f => f.Tensors).ToArray();
    }

    /// <summary>Whether <paramref name="directory"/> holds a GPTQ checkpoint (quantize_config.json, or a gptq
    /// quantization_config in config.json).</summary>
    public static bool IsGptqDirectory(string directory) =>
        File.Exists(System.IO.Path.Combine(directory, GptqQuantizeConfig.FileName)) || GptqQuantizeConfig.TryRead(directory) != null;

    public static GptqCheckpoint Open(string directory)
    {
        var config = HuggingFaceConfig.Read(System.IO.Path.Combine(directory, HuggingFaceConfig.FileName));
        var quantization = GptqQuantizeConfig.TryRead(directory)
                           ?? throw new QuantNativeException($"{directory}: no {GptqQuantizeConfig.FileName} and no quantization_config in config.json");
        var q = quantization.Quantizer;
        var files = new List<SafetensorsFile>();
        try
        {
            var fileOf = HuggingFaceCheckpoint.OpenWeights(directory, files);
            var expected = new List<string>();
            void Check(string name, string? dtype, long[] shape)
            {
                expected.Add(name);
                if (!fileOf.TryGetValue(name, out var file) || !file.Contains(name))
                    throw new QuantNativeException($"{directory}: tensor '{name}' not found (a GPTQ checkpoint of " +
                                                   $"W{q.Bits} {(q.PerChannel ? "per-channel" : $"g{q.GroupSize}")} needs it)");
                var info = file.Info(name);
                bool dtypeOk = dtype == null ? FloatDTypeExtensions.TryParseSafetensors(info.DType, out _) : info.DType == dtype;
                if (!dtypeOk)
                    throw new QuantNativeException(
                        $"tensor '{name}' in {file.Path} is {info.DType}, expected {dtype ?? "F32, F16 or BF16"}");
                if (!info.Shape.SequenceEqual(shape))
                    throw new QuantNativeException(
                        $"tensor '{name}' in {file.Path} has shape [{string.Join(", ", info.Shape)}], expected " +
                        $"[{string.Join(", ", shape)}] for W{q.Bits} {(q.PerChannel ? "per-channel" : $"g{q.GroupSize}")}");
            }
            Check(HuggingFaceNames.Embedding, null, [config.VocabSize, config.HiddenSize]);
            for (int layer = 0; layer < config.NumLayers; layer++)
            {
                Check(HuggingFaceNames.Block(layer, "input_layernorm"), null, [config.HiddenSize]);
                Check(HuggingFaceNames.Block(layer, "post_attention_layernorm"), null, [config.HiddenSize]);
                foreach (var extra in BlockExtraParts.Of(config))
                    Check(HuggingFaceNames.Extra(layer, extra.Part), null, [extra.Length(config)]);
                foreach (var linear in BlockLinears.All)
                {
                    var (rows, columns) = linear.Shape(config);
                    foreach (var (suffix, dtype, shape) in GptqTensorNames.Tensors(rows, columns, q))
                        Check($"{BlockLinears.Name(layer, linear)}.{suffix}", dtype, shape);
                }
            }
            Check(HuggingFaceNames.FinalNorm, null, [config.HiddenSize]);
            if (!config.TieWordEmbeddings) Check(HuggingFaceNames.Output, null, [config.VocabSize, config.HiddenSize]);
            HuggingFaceCheckpoint.RefuseUnaccounted(directory, config, fileOf.Keys, expected);
            return new GptqCheckpoint(directory, config, quantization, files, fileOf);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    public float[] LoadTokenEmbedding() => Floats(HuggingFaceNames.Embedding);
    public float[] LoadFinalNorm() => Floats(HuggingFaceNames.FinalNorm);
    public float[] LoadOutput() => Floats(Config.TieWordEmbeddings ? HuggingFaceNames.Embedding : HuggingFaceNames.Output);

    public LlamaBlockWeights LoadBlock(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Config.NumLayers);
        float[] W(string part) => LoadMatrix(layer, part).Dequantize();
        var block = new LlamaBlockWeights
        {
            AttnNorm = Floats(HuggingFaceNames.Block(layer, "input_layernorm")),
            Wq = W("self_attn.q_proj"), Wk = W("self_attn.k_proj"), Wv = W("self_attn.v_proj"), Wo = W("self_attn.o_proj"),
            FfnNorm = Floats(HuggingFaceNames.Block(layer, "post_attention_layernorm")),
            WGate = W("mlp.gate_proj"), WUp = W("mlp.up_proj"), WDown = W("mlp.down_proj"),
            Extras = BlockExtraParts.Load(Config, part => Floats(HuggingFaceNames.Extra(layer, part.Part))),
        };
        block.Validate(Config, layer, Path);
        return block;
    }

    /// <summary>One block linear unpacked to codes, scales, zeros and g_idx (exactly as stored).</summary>
    public QuantizedMatrix LoadMatrix(int layer, string part)
    {
        var packed = LoadPacked(layer, part);
        return GptqPacker.Unpack(packed, BlockLinears.Name(layer, BlockLinears.All.First(l => l.Part == part)));
    }

    /// <summary>One block linear's tensors as stored (qweight, qzeros, scales, g_idx), for the low-bit repack.</summary>
    public PackedGptqLinear LoadPacked(int layer, string part)
    {
        var linear = BlockLinears.All.FirstOrDefault(l => l.Part == part)
                     ?? throw new ArgumentOutOfRangeException(nameof(part), part, "not a block linear layer");
        var (rows, columns) = linear.Shape(Config);
        string prefix = BlockLinears.Name(layer, linear);
        var q = Quantization.Quantizer;
        return new PackedGptqLinear
        {
            Bits = q.Bits, InFeatures = columns, OutFeatures = rows, GroupSize = q.GroupSize, Symmetric = q.Symmetric,
            Format = Quantization.Format,
            QWeight = Ints($"{prefix}.{GptqTensorNames.QWeight}"), QZeros = Ints($"{prefix}.{GptqTensorNames.QZeros}"),
            Scales = MemoryMarshal.Cast<byte, ushort>(Bytes($"{prefix}.{GptqTensorNames.Scales}")).ToArray(),
            GIdx = Ints($"{prefix}.{GptqTensorNames.GIdx}"),
        };
    }

    private float[] Floats(string name) => _fileOf[name].ReadFloats(name);

    /// <summary>A tensor that is not quantized (embedding, norms, lm_head) left mapped in its dtype.</summary>
    public MappedTensor Map(string name) => _fileOf.TryGetValue(name, out var file)
        ? file.Map(name)
        : throw new QuantNativeException($"{Path}: tensor '{name}' not found");
    private byte[] Bytes(string name) => _fileOf[name].ReadBytes(name);
    private int[] Ints(string name) => MemoryMarshal.Cast<byte, int>(Bytes(name)).ToArray();

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
