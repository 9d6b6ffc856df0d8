using System.Text;
using System.Text.Json;
using CommandLine;
using QuantNative.Evaluation;
using QuantNative.Model;

namespace QuantNative.Cli;

[Verb("eval", HelpText = "Perplexity of a model on a text (non-overlapping windows, DESIGN.md §6).")]
public sealed class EvalCommand : ModelOptions, ICommand
{
    [Option("text", Required = true, HelpText = "UTF-8 evaluation text.")]
    public string Text { get; set; } = "";

    [Option("ctx", HelpText = "Window length in tokens (default: the model's context length).")]
    public int? Ctx { get; set; }

    [Option("max-windows", HelpText = "Evaluate only the first K windows.")]
    public int? MaxWindows { get; set; }

    [Option("json", HelpText = "Print one JSON object instead of a table.")]
    public bool Json { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        string text = TextFile.ReadUtf8(Text, "--text");
        LlamaModel model;
        using (var source = OpenModel()) model = LlamaModel.Load(source);
        var tokenizer = LoadTokenizer(model.Config.VocabSize);
        int ctx = Ctx ?? model.Config.MaxPositionEmbeddings;
        int[] tokens = tokenizer.Encode(text, addBos: true);
        Perplexity.CountWindows(tokens.Length, ctx, model.Config.MaxPositionEmbeddings);

        var result = new ProgressReporter(stderr).Run("eval",
            report => Perplexity.Evaluate(model, tokens, ctx, MaxWindows,
                (done, total) => report(done, total, "windows")));

        if (Json) stdout.WriteLine(ToJson(result));
        else
        {
            stdout.WriteLine($"model        {Model}");
            stdout.WriteLine($"text         {Text} ({result.TextTokens} tokens)");
            stdout.WriteLine($"windows      {result.Windows} of {result.AvailableWindows} × {result.Ctx} tokens");
            stdout.WriteLine($"predicted    {result.Predicted}");
            stdout.WriteLine($"nll          {result.Nll:F6}");
            stdout.WriteLine($"perplexity   {result.Ppl:F4}");
            stdout.WriteLine($"time         {result.Seconds:F2} s ({result.TokensPerSecond:F0} tokens/s)");
        }
        return 0;
    }

    public static string ToJson(PerplexityResult r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("ppl", r.Ppl);
            w.WriteNumber("nll", r.Nll);
            w.WriteNumber("tokens", r.Tokens);
            w.WriteNumber("text_tokens", r.TextTokens);
            w.WriteNumber("windows", r.Windows);
            w.WriteNumber("available_windows", r.AvailableWindows);
            w.WriteNumber("predicted", r.Predicted);
            w.WriteNumber("ctx", r.Ctx);
            w.WriteNumber("seconds", r.Seconds);
            w.WriteNumber("tokens_per_second", r.TokensPerSecond);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
