using CommandLine;
using QuantNative.Benchmarks;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;

namespace QuantNative.Cli;

[Verb("synthesize", HelpText = "Write a Hugging Face checkpoint of a real model's shape with random weights (for memory " +
                               "and speed measurements at scale; no tokenizer).")]
public sealed class SynthesizeCommand : ICommand
{
    [Option("shape", Required = true, HelpText = "tinyllama-1.1b or llama2-7b.")]
    public string Shape { get; set; } = "";

    [Option("dtype", Default = "bf16", HelpText = "f32, f16 or bf16.")]
    public string DType { get; set; } = "bf16";

    [Option("seed", Default = 0, HelpText = "Seed of the random weights.")]
    public int Seed { get; set; }

    [Option("out", Required = true, HelpText = "Output directory.")]
    public string Out { get; set; } = "";

    [Option("force", HelpText = "Replace --out if it exists.")]
    public bool Force { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        var config = ModelShapes.Get(Shape, "--shape");
        var dtype = FloatDTypeExtensions.ParseOption(DType, "--dtype");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var source = new SyntheticModelSource(config, Seed);
        HuggingFaceWriter.Write(source, Out, dtype, 4L << 30, Force);
        stdout.WriteLine($"wrote {Out} ({Shape}, {dtype}, {config.ParameterCount:N0} parameters, seed {Seed}, " +
                         $"{clock.Elapsed.TotalSeconds:F1} s)");
        return 0;
    }
}
