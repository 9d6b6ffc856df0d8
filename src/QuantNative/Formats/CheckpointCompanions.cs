using QuantNative.Formats.HuggingFace;

namespace QuantNative.Formats;

/// <summary>
/// Files of a source checkpoint directory that describe the model rather than hold it, carried into every output
/// as they were: generation_config.json (the EOS ids and sampling defaults Transformers' generate uses).
/// </summary>
public static class CheckpointCompanions
{
    public const string GenerationConfig = "generation_config.json";

    public static IEnumerable<ExtraFile> For(string modelPath)
    {
        string path = Path.Combine(modelPath, GenerationConfig);
        if (Directory.Exists(modelPath) && File.Exists(path)) yield return ExtraFile.CopyOf(path);
    }
}
