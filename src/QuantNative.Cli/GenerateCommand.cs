using CommandLine;
using QuantNative.Inference;
using QuantNative.Model;

namespace QuantNative.Cli;

[Verb("generate", HelpText = "Continue a prompt, streaming the text as it is produced.")]
public sealed class GenerateCommand : ModelOptions, ICommand
{
    [Option("prompt", Default = "", HelpText = "Text to continue (may be empty).")]
    public string Prompt { get; set; } = "";

    [Option("max-tokens", Default = 256, HelpText = "Most tokens to generate.")]
    public int MaxTokens { get; set; }

    [Option("temperature", Default = 0f, HelpText = "0 = greedy; otherwise sample from softmax(logits / T).")]
    public float Temperature { get; set; }

    [Option("top-p", Default = 1f, HelpText = "Nucleus sampling: keep the most likely tokens up to this probability mass.")]
    public float TopP { get; set; }

    [Option("seed", Default = 0, HelpText = "Random seed for sampling.")]
    public int Seed { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        var sampler = new Sampler(Temperature, TopP, Seed);
        if (MaxTokens < 0) throw new QuantNativeException($"--max-tokens must be ≥ 0 (got {MaxTokens})");
        LlamaModel model;
        using (var source = OpenModel()) model = LlamaModel.Load(source);
        var tokenizer = LoadTokenizer(model.Config.VocabSize);
        var result = TextGenerator.Generate(model, tokenizer, Prompt, MaxTokens, sampler, piece =>
        {
            stdout.Write(piece);
            stdout.Flush();
        });
        stdout.WriteLine();
        stderr.WriteLine($"[{result.GeneratedTokens} tokens in {result.Seconds:F2} s, " +
                         $"{result.GeneratedTokens / Math.Max(result.Seconds, 1e-9):F1} tokens/s, stop: {result.StopReason}]");
        return 0;
    }
}
