using System.Text;
using System.Text.Json;
using CommandLine;
using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Evaluation;
using QuantNative.Formats.Gptq;
using QuantNative.Inference;
using QuantNative.Model;

namespace QuantNative.Cli;

[Verb("eval", HelpText = "Perplexity of a model on a text (non-overlapping windows, DESIGN.md §6).")]
public sealed class EvalCommand : ModelOptions, ICommand, IDeviceOption
{
    [Option("device", Default = DeviceKind.Cpu, HelpText = DeviceOption.HelpText + " cuda and emulate run the block " +
        "linears of a GPTQ checkpoint through the low-bit kernel (fp16 activations, float32 output); the rest of the " +
        "forward, and any layer whose shape the kernel refuses, stays on the CPU (the summary says which).")]
    public DeviceKind Device { get; set; }

    [Option("text", HelpText = "UTF-8 evaluation text; default for the built-in model (and models made from it): its held-out TinyStories slice.")]
    public string? Text { get; set; }

    [Option("ctx", HelpText = "Window length in tokens (default: the model's context length).")]
    public int? Ctx { get; set; }

    [Option("max-windows", HelpText = "Evaluate only the first K windows.")]
    public int? MaxWindows { get; set; }

    [Option("json", HelpText = "Print one JSON object instead of a table.")]
    public bool Json { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        // A given text is read first: a wrong path is one clean line before anything is loaded.
        string? text = Text == null || Text.StartsWith("builtin:", StringComparison.OrdinalIgnoreCase) ? null : TextFile.ReadUtf8(Text, "--text");
        ICudaRuntime? runtime = null;
        DeviceBlockLinears? linears = null;
        try
        {
            // The device first: no GPU is one clean line before anything is loaded.
            runtime = Device switch
            {
                DeviceKind.Cuda => DriverCudaRuntime.Create(),
                DeviceKind.Emulate => new EmulatedCudaRuntime(),
                _ => null,
            };
            var source = OpenModel();
            using var model = InferenceModel.Open(source);
            {
                if (runtime != null)
                    linears = new DeviceBlockLinears(runtime, source is GptqCheckpoint ? model : throw new QuantNativeException(
                        $"--device {Device.ToString().ToLowerInvariant()}: eval runs the low-bit linears of a GPTQ " +
                        $"checkpoint on the device, and {ModelLabel} is a {source.Format} model (quantize it with qn quantize, " +
                        "or use --device cpu)"));
            }
            var tokenizer = LoadTokenizer(model.Config.VocabSize);
            var (textPath, textLabel) = TextOrBuiltin(Text, "--text", heldOut: true, tokenizer, stderr);
            text ??= TextFile.ReadUtf8(textPath, "--text");
            int ctx = Ctx ?? model.Config.MaxPositionEmbeddings;
            int[] tokens = tokenizer.EncodeAsTemplate(text);
            Perplexity.CountWindows(tokens.Length, ctx, model.Config.MaxPositionEmbeddings);

            var result = new ProgressReporter(stderr).Run("eval",
                report => Perplexity.Evaluate(model, tokens, ctx, MaxWindows,
                    (done, total) => report(done, total, "windows"), linears: linears));

            if (Json) stdout.WriteLine(ToJson(result, tokenizer.AddsBos, linears));
            else
            {
                stdout.WriteLine($"model        {ModelLabel}");
                stdout.WriteLine($"text         {textLabel} ({result.TextTokens} tokens)");
                stdout.WriteLine($"bos          {(tokenizer.AddsBos ? "at the start of the stream (the tokenizer's template adds it)" : "none (the tokenizer's template adds none)")}");
                stdout.WriteLine($"windows      {result.Windows} of {result.AvailableWindows} × {result.Ctx} tokens");
                stdout.WriteLine($"linears      {(linears == null ? $"on the CPU: {model.Form}" : linears.Placement())}");
                stdout.WriteLine($"predicted    {result.Predicted}");
                stdout.WriteLine($"nll          {result.Nll:F6}");
                stdout.WriteLine($"perplexity   {result.Ppl:F4}");
                stdout.WriteLine($"time         {result.Seconds:F2} s ({result.TokensPerSecond:F0} tokens/s)");
            }
            return 0;
        }
        finally
        {
            linears?.Dispose();
            runtime?.Dispose();
        }
    }

    public static string ToJson(PerplexityResult r, bool bos, DeviceBlockLinears? linears = null)
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
            w.WriteBoolean("bos", bos); // whether the stream starts with BOS (the tokenizer's template decides)
            w.WriteNumber("seconds", r.Seconds);
            w.WriteNumber("tokens_per_second", r.TokensPerSecond);
            if (linears != null)
            {
                w.WriteString("device", linears.Device);
                w.WriteNumber("device_linears", linears.OnDevice);
                w.WriteStartArray("cpu_linears");
                foreach (var l in linears.OnCpu) w.WriteStringValue($"model.layers.{l.Layer}.{l.Part}");
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
