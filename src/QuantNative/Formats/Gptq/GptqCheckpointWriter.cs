using QuantNative.Formats.HuggingFace;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// Writes a <see cref="QuantizedModel"/> held in memory as a GPTQ-format Hugging Face directory (DESIGN.md §5):
/// model.safetensors with qweight/qzeros (I32), scales (F16) and g_idx (I32) per quantized linear and every other
/// tensor in its source dtype; config.json with a quantization_config section; quantize_config.json; and the extra
/// (tokenizer) files — through the same <see cref="GptqCheckpointStream"/> a streaming quantization run writes with.
/// </summary>
public static class GptqCheckpointWriter
{
    /// <param name="afterTensor">Called after each tensor is written (tests use it to interrupt an export).</param>
    public static void Write(QuantizedModel model, string outDir, bool overwrite = false,
        IEnumerable<ExtraFile>? extraFiles = null, Action<string>? afterTensor = null)
    {
        var extras = (extraFiles ?? []).ToList();
        CheckpointDirectory.CheckExtraNames(extras, outDir); // before any work
        using var stream = GptqCheckpointStream.Begin(model.Config, model.Quantizer, model.Format, model.SourceDTypes,
            outDir, overwrite, afterTensor);
        var blocks = model.HeldBlocks();
        for (int layer = 0; layer < blocks.Length; layer++) stream.Write(layer, blocks[layer]);
        stream.Finish(model, extras);
    }
}
