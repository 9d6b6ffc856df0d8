using CommandLine;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;
using QuantNative.Tokenization;

namespace QuantNative.Cli;

[Verb("convert", HelpText = "Write a model (llama2.c or Hugging Face) as a Hugging Face directory: safetensors, config.json, tokenizer.")]
public sealed class ConvertCommand : ModelOptions, ICommand
{
    [Option("out", Required = true, HelpText = "Output directory (must not exist unless --force).")]
    public string Out { get; set; } = "";

    [Option("dtype", Default = "f32", HelpText = "Weight dtype: f32, f16 or bf16.")]
    public string DType { get; set; } = "f32";

    [Option("max-shard-mb", HelpText = "Split the weights into safetensors shards of at most this many MB (with an index).")]
    public long? MaxShardMb { get; set; }

    [Option("force", HelpText = "Replace an existing output directory.")]
    public bool Force { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        OutOption.Check(Out);
        var dtype = FloatDTypeExtensions.ParseOption(DType, "--dtype");
        if (MaxShardMb is <= 0) throw new QuantNativeException($"--max-shard-mb must be positive (got {MaxShardMb})");
        using var source = OpenModel();
        var tokenizer = TokenizerLoader.Load(Model, Tokenizer, source.Config.VocabSize);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        new ProgressReporter(stderr).Run("convert", report =>
        {
            HuggingFaceWriter.Write(source, Out, dtype, MaxShardMb * 1024 * 1024, Force,
                TokenizerFiles.For(tokenizer).Concat(CheckpointCompanions.For(Model)), (done, total, _) => report(done, total, "tensors"));
            return 0;
        });
        stdout.WriteLine($"wrote {Out} ({source.Format} → Hugging Face, {dtype}, {source.Config.ParameterCount:N0} parameters, " +
                         $"{clock.Elapsed.TotalSeconds:F1} s)");
        foreach (var file in Directory.GetFiles(Out).Order())
            stdout.WriteLine($"  {Path.GetFileName(file),-28} {new FileInfo(file).Length,12:N0} bytes");
        return 0;
    }
}
