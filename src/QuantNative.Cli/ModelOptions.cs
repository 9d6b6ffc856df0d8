using CommandLine;
using QuantNative.Formats;
using QuantNative.Model;
using QuantNative.Tokenization;

namespace QuantNative.Cli;

/// <summary>The options every verb that reads a model shares.</summary>
public abstract class ModelOptions
{
    [Option("model", Required = true, HelpText = "A llama2.c .bin checkpoint or a Hugging Face directory (config.json + safetensors).")]
    public string Model { get; set; } = "";

    [Option("tokenizer", HelpText = "Tokenizer file (llama2.c .bin, tokenizer.model or tokenizer.json); default: the one in the model directory.")]
    public string? Tokenizer { get; set; }

    protected IModelSource OpenModel() => ModelLoader.Open(Model);

    protected ITextTokenizer LoadTokenizer(int vocabSize) => TokenizerLoader.Load(Model, Tokenizer, vocabSize);
}
