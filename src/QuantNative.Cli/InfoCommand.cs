using CommandLine;

namespace QuantNative.Cli;

[Verb("info", HelpText = "Print a model's architecture, parameter count, dtypes and tensor shapes.")]
public sealed class InfoCommand : ICommand
{
    [Option("model", Required = true, HelpText = "llama2.c .bin file or Hugging Face directory.")]
    public string Model { get; set; } = "";

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        throw new QuantNativeException("info: not implemented yet");
    }
}
