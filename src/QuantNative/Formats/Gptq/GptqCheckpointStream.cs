using System.Runtime.InteropServices;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// A GPTQ-format Hugging Face directory (DESIGN.md §5) written while it is being made: the tensor list follows from
/// the config and the quantizer alone, so the safetensors header is written at <see cref="Begin"/> and each block's
/// packed tensors go to the file as soon as the block is finished (<see cref="Write"/>); the embedding, final norm,
/// lm_head and the JSON files follow at <see cref="Finish"/>. Everything lives in a hidden sibling directory that is
/// renamed into place only when complete; disposing an unfinished stream deletes it.
/// </summary>
public sealed class GptqCheckpointStream : IQuantizedBlockSink, IDisposable
{
    private readonly CheckpointDirectory.PendingDirectory _dir;
    private readonly SafetensorsWriter _tensors;
    private readonly LlamaConfig _c;
    private readonly QuantizerConfig _q;
    private readonly GptqCheckpointFormat _format;
    private readonly IReadOnlyDictionary<string, string> _dtypes;
    private readonly Action<string>? _afterTensor;

    private GptqCheckpointStream(CheckpointDirectory.PendingDirectory dir, LlamaConfig c, QuantizerConfig q,
        GptqCheckpointFormat format, IReadOnlyDictionary<string, string> dtypes, Action<string>? afterTensor)
    {
        (_dir, _c, _q, _format, _dtypes, _afterTensor) = (dir, c, q, format, dtypes, afterTensor);
        var specs = Specs(c, q, DTypeOf);
        long bytes = specs.Sum(s => s.ByteCount);
        if (FreeSpace.Available(dir.Temp) is { } free && free < bytes)
            throw new QuantNativeException($"{Path.GetDirectoryName(Path.GetFullPath(dir.Temp))}: the GPTQ checkpoint needs " +
                                           $"{FreeSpace.Mib(bytes)} MiB, but its file system has {FreeSpace.Mib(free)} MiB free");
        SafetensorsWriter? tensors = null;
        dir.Run(() => tensors = new SafetensorsWriter(Path.Combine(dir.Temp, HuggingFaceCheckpoint.SingleFileName), specs,
            new Dictionary<string, string> { ["format"] = "pt" })); // Transformers requires the format key
        _tensors = tensors!;
    }

    /// <summary>Starts the checkpoint of a model of config <paramref name="c"/> quantized with <paramref name="q"/>,
    /// its other tensors stored in <paramref name="sourceDTypes"/> (by Hugging Face name; F32 when absent). An existing
    /// <paramref name="outDir"/> is refused now unless <paramref name="overwrite"/>, and is replaced only at the end.</summary>
    /// <param name="afterTensor">Called after each tensor is written (tests use it to interrupt an export).</param>
    public static GptqCheckpointStream Begin(LlamaConfig c, QuantizerConfig q, GptqCheckpointFormat format,
        IReadOnlyDictionary<string, string> sourceDTypes, string outDir, bool overwrite = false,
        Action<string>? afterTensor = null)
    {
        var dir = CheckpointDirectory.Begin(outDir, overwrite, "GPTQ");
        try
        {
            return new GptqCheckpointStream(dir, c, q, format, sourceDTypes, afterTensor);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Packs and writes block <paramref name="layer"/>: its norms, its seven linears (qweight, qzeros, scales,
    /// g_idx) and its extras (biases, q/k norms) as they were.</summary>
    public void Write(int layer, QuantizedBlock block)
    {
        _dir.Run(() =>
        {
            foreach (var part in GptqTensorNames.BlockOrder())
            {
                if (GptqTensorNames.IsNorm(part))
                {
                    Floats(HuggingFaceNames.Block(layer, part), part == "input_layernorm" ? block.AttnNorm : block.FfnNorm);
                    continue;
                }
                var matrix = block.Linears[part];
                string prefix = $"model.layers.{layer}.{part}";
                if (matrix.Config != _q)
                    throw new InvalidOperationException($"{prefix}: quantized with {matrix.Config}, the checkpoint declares {_q}");
                var packed = GptqPacker.Pack(matrix, _format, prefix);
                Bytes($"{prefix}.{GptqTensorNames.QWeight}", MemoryMarshal.AsBytes(packed.QWeight.AsSpan()));
                Bytes($"{prefix}.{GptqTensorNames.QZeros}", MemoryMarshal.AsBytes(packed.QZeros.AsSpan()));
                Bytes($"{prefix}.{GptqTensorNames.Scales}", MemoryMarshal.AsBytes(packed.Scales.AsSpan()));
                Bytes($"{prefix}.{GptqTensorNames.GIdx}", MemoryMarshal.AsBytes(packed.GIdx.AsSpan()));
            }
            // Biases and q/k norms as they were (AutoGPTQ's QuantLinear keeps its bias beside qweight, same name).
            var present = block.Extras.Present().ToList();
            if (!present.Select(p => p.Part).SequenceEqual(BlockExtraParts.Of(_c).Select(p => p.Part)))
                throw new InvalidOperationException($"block {layer}: extras {string.Join(", ", present.Select(p => p.Part))} " +
                                                    "differ from the config's");
            foreach (var (part, extra) in present) Floats(HuggingFaceNames.Extra(layer, part), extra);
        });
    }

    /// <summary>Writes what is not a block (embedding, final norm, lm_head), config.json with its
    /// quantization_config, quantize_config.json and the extra files, and renames the directory into place.
    /// <paramref name="model"/> supplies those tensors and how it was made; its blocks are not read.</summary>
    public void Finish(QuantizedModel model, IEnumerable<ExtraFile>? extraFiles)
    {
        if (model.Config != _c || model.Quantizer != _q || model.Format != _format)
            throw new InvalidOperationException("the model to finish is not the one this checkpoint was begun for");
        var quantize = GptqQuantizeConfig.From(model);
        _dir.Run(() =>
        {
            Floats(HuggingFaceNames.Embedding, model.TokenEmbedding);
            Floats(HuggingFaceNames.FinalNorm, model.FinalNorm);
            if (!_c.TieWordEmbeddings && model.Output != null) Floats(HuggingFaceNames.Output, model.Output);
            _tensors.Commit();
            var embeddingDType = FloatDTypeExtensions.TryParseSafetensors(DTypeOf(HuggingFaceNames.Embedding), out var d)
                ? d
                : FloatDType.F32;
            using (var stream = File.Create(Path.Combine(_dir.Temp, HuggingFaceConfig.FileName)))
                HuggingFaceConfig.Write(stream, _c, embeddingDType, json =>
                {
                    json.WriteStartObject("quantization_config");
                    quantize.WriteFields(json);
                    json.WriteEndObject();
                });
            using (var stream = File.Create(Path.Combine(_dir.Temp, GptqQuantizeConfig.FileName)))
                quantize.WriteFile(stream);
        });
        _dir.Commit(extraFiles);
    }

    public void Dispose()
    {
        _tensors.Dispose();
        _dir.Dispose();
    }

    private string DTypeOf(string name) => _dtypes.TryGetValue(name, out var d) ? d : "F32";

    private void Floats(string name, float[] values)
    {
        _tensors.Write(name, values);
        _afterTensor?.Invoke(name);
    }

    // The packed arrays are written as their in-memory bytes: safetensors is little-endian, and so is every host this
    // project runs on (FloatConversion refuses others).
    private void Bytes(string name, ReadOnlySpan<byte> bytes)
    {
        _tensors.WriteBytes(name, bytes);
        _afterTensor?.Invoke(name);
    }

    /// <summary>Every tensor of the checkpoint in Transformers' state-dict order, from the config alone.</summary>
    private static List<SafetensorsTensorSpec> Specs(LlamaConfig c, QuantizerConfig q, Func<string, string> dtypeOf)
    {
        var specs = new List<SafetensorsTensorSpec>();
        void Plain(string name, long[] shape) => specs.Add(new SafetensorsTensorSpec(name, dtypeOf(name), shape));

        Plain(HuggingFaceNames.Embedding, [c.VocabSize, c.HiddenSize]);
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            foreach (var part in GptqTensorNames.BlockOrder())
            {
                if (GptqTensorNames.IsNorm(part))
                {
                    Plain(HuggingFaceNames.Block(layer, part), GptqTensorNames.NormShape(c));
                    continue;
                }
                var (rows, columns) = BlockLinears.All[BlockLinears.IndexOf(part)].Shape(c);
                foreach (var (suffix, dtype, shape) in GptqTensorNames.Tensors(rows, columns, q))
                    specs.Add(new SafetensorsTensorSpec($"model.layers.{layer}.{part}.{suffix}", dtype, shape));
            }
            foreach (var extra in BlockExtraParts.Of(c))
                Plain(HuggingFaceNames.Extra(layer, extra.Part), [extra.Length(c)]);
        }
        Plain(HuggingFaceNames.FinalNorm, GptqTensorNames.NormShape(c));
        if (!c.TieWordEmbeddings) Plain(HuggingFaceNames.Output, [c.VocabSize, c.HiddenSize]);
        return specs;
    }
}
