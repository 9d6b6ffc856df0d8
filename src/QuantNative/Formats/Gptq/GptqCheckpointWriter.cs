using System.Runtime.InteropServices;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Safetensors;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// Writes a <see cref="QuantizedModel"/> as a GPTQ-format Hugging Face directory (DESIGN.md §5): model.safetensors with
/// qweight/qzeros (I32), scales (F16) and g_idx (I32) per quantized linear and every other tensor in its source dtype;
/// config.json with a quantization_config section; quantize_config.json; and the extra (tokenizer) files. Everything is
/// written in a hidden sibling directory renamed into place when complete, so an interrupted export leaves nothing.
/// </summary>
public static class GptqCheckpointWriter
{
    /// <param name="afterTensor">Called after each tensor is written (tests use it to interrupt an export).</param>
    public static void Write(QuantizedModel model, string outDir, bool overwrite = false,
        IEnumerable<ExtraFile>? extraFiles = null, Action<string>? afterTensor = null)
    {
        var quantize = GptqQuantizeConfig.From(model);
        var plan = Plan(model);
        CheckpointDirectory.Write(outDir, overwrite, "GPTQ", extraFiles, temp =>
        {
            var embeddingDType = ParseFloat(model.DTypeOf(HuggingFaceNames.Embedding));
            using (var stream = File.Create(Path.Combine(temp, HuggingFaceConfig.FileName)))
                HuggingFaceConfig.Write(stream, model.Config, embeddingDType, json =>
                {
                    json.WriteStartObject("quantization_config");
                    quantize.WriteFields(json);
                    json.WriteEndObject();
                });
            using (var stream = File.Create(Path.Combine(temp, GptqQuantizeConfig.FileName)))
                quantize.WriteFile(stream);
            WriteTensors(model, Path.Combine(temp, HuggingFaceCheckpoint.SingleFileName), plan, afterTensor);
        });
    }

    /// <summary>A tensor to write: its spec and how to produce its bytes or floats.</summary>
    private sealed record Item(SafetensorsTensorSpec Spec, Func<float[]>? Floats, Func<PackedGptqLinear>? Packed, string? Suffix);

    private static List<Item> Plan(QuantizedModel model)
    {
        var c = model.Config;
        var items = new List<Item>();
        void Plain(string name, long[] shape, float[] values) =>
            items.Add(new Item(new SafetensorsTensorSpec(name, model.DTypeOf(name), shape), () => values, null, null));

        Plain(HuggingFaceNames.Embedding, [c.VocabSize, c.HiddenSize], model.TokenEmbedding);
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            var block = model.Blocks[layer];
            foreach (var part in GptqTensorNames.BlockOrder())
            {
                if (GptqTensorNames.IsNorm(part))
                {
                    Plain(HuggingFaceNames.Block(layer, part), GptqTensorNames.NormShape(c),
                        part == "input_layernorm" ? block.AttnNorm : block.FfnNorm);
                    continue;
                }
                var matrix = block.Linears[part];
                string prefix = $"model.layers.{layer}.{part}";
                // Packed once, when its first tensor (qweight) is written; the other three reuse it.
                PackedGptqLinear? packed = null;
                PackedGptqLinear Pack() => packed ??= GptqPacker.Pack(matrix, model.Format, prefix);
                foreach (var (suffix, dtype, shape) in GptqTensorNames.Tensors(matrix.Rows, matrix.Columns, matrix.Config))
                    items.Add(new Item(new SafetensorsTensorSpec($"{prefix}.{suffix}", dtype, shape), null, Pack, suffix));
            }
            // Biases and q/k norms as they were (AutoGPTQ's QuantLinear keeps its bias beside qweight, same name).
            foreach (var (part, extra) in block.Extras.Present())
                Plain(HuggingFaceNames.Extra(layer, part), [extra.Length], extra);
        }
        Plain(HuggingFaceNames.FinalNorm, GptqTensorNames.NormShape(c), model.FinalNorm);
        if (!c.TieWordEmbeddings && model.Output != null) Plain(HuggingFaceNames.Output, [c.VocabSize, c.HiddenSize], model.Output);
        return items;
    }

    // The packed arrays are written as their in-memory bytes: safetensors is little-endian, and so is every host this
    // project runs on (FloatConversion refuses others).
    private static void WriteTensors(QuantizedModel model, string path, List<Item> plan, Action<string>? afterTensor)
    {
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };  // Transformers requires it
        using var writer = new SafetensorsWriter(path, plan.Select(i => i.Spec).ToList(), metadata);
        foreach (var item in plan)
        {
            if (item.Floats != null) writer.Write(item.Spec.Name, item.Floats());
            else
            {
                var p = item.Packed!();
                var bytes = item.Suffix switch
                {
                    GptqTensorNames.QWeight => MemoryMarshal.AsBytes(p.QWeight.AsSpan()),
                    GptqTensorNames.QZeros => MemoryMarshal.AsBytes(p.QZeros.AsSpan()),
                    GptqTensorNames.Scales => MemoryMarshal.AsBytes(p.Scales.AsSpan()),
                    _ => MemoryMarshal.AsBytes(p.GIdx.AsSpan()),
                };
                writer.WriteBytes(item.Spec.Name, bytes);
            }
            afterTensor?.Invoke(item.Spec.Name);
        }
        writer.Commit();
    }

    private static FloatDType ParseFloat(string dtype) =>
        FloatDTypeExtensions.TryParseSafetensors(dtype, out var d) ? d : FloatDType.F32;
}
