using QuantNative.Formats.Gptq;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Llama2c;
using QuantNative.Model;

namespace QuantNative.Formats;

/// <summary>Opens a checkpoint by what the path is: a file is a GGUF file (by its magic) or a llama2.c checkpoint, a directory with config.json
/// is a Hugging Face checkpoint, GPTQ-quantized when it has quantize_config.json or a gptq quantization_config.</summary>
public static class ModelLoader
{
    private const string Expected = "expected a llama2.c .bin file, a .gguf file or a Hugging Face directory containing config.json";

    public static IModelSource Open(string path)
    {
        if (File.Exists(path))
            return Gguf.GgufFile.IsGguf(path) ? Gguf.GgufModelSource.Open(path) : Llama2cCheckpoint.Open(path);
        if (Directory.Exists(path))
        {
            if (File.Exists(System.IO.Path.Combine(path, HuggingFaceConfig.FileName)))
                return GptqCheckpoint.IsGptqDirectory(path) ? GptqCheckpoint.Open(path) : HuggingFaceCheckpoint.Open(path);
            throw new QuantNativeException($"{path}: directory has no {HuggingFaceConfig.FileName}; {Expected}");
        }
        throw new QuantNativeException($"{path}: not found; {Expected}");
    }
}
