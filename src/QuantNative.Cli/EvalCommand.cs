using System.Text;
using System.Text.Json;
using CommandLine;
using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Evaluation;
using QuantNative.Formats.Gptq;
using QuantNative.Inference;
using QuantNative.Inference.Device;
using QuantNative.Model;

namespace QuantNative.Cli;

[Verb("eval", HelpText = "Perplexity of a model on a text (non-overlapping windows, DESIGN.md §6).")]
public sealed class EvalCommand : ModelOptions, ICommand, IDeviceOption
{
    [Option("device", Default = DeviceKind.Cpu, HelpText = DeviceOption.HelpText + " cuda and emulate run the whole " +
        "forward on the device, activations staying there across layers: quantized linears on the low-bit kernel (fp16 " +
        "activations, float32 output), dense ones and any low-bit layer whose shape the kernel refuses through cuBLAS " +
        "in float32 (the summary says which).")]
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
        // The device first: no GPU is one clean line before anything is loaded.
        using var device = DecodeDevice.OpenRuntime(Device);
        var source = OpenModel();
        using var model = InferenceModel.Open(source);
        // Evaluation multiplies float32 activations on the CPU whatever the window length (the library's default):
        // int8 decode activations are a generator's speed choice, not part of a perplexity.
        var engine = device.Load(model);
        var onDevice = (engine as DeviceDecodeEngine)?.Model;
        var tokenizer = LoadTokenizer(model.Config.VocabSize);
        var (textPath, textLabel) = TextOrBuiltin(Text, "--text", heldOut: true, tokenizer, stderr);
        text ??= TextFile.ReadUtf8(textPath, "--text");
        int ctx = Ctx ?? model.Config.MaxPositionEmbeddings;
        int[] tokens = tokenizer.EncodeAsTemplate(text);
        Perplexity.CountWindows(tokens.Length, ctx, model.Config.MaxPositionEmbeddings);

        var result = new ProgressReporter(stderr).Run("eval",
            report => Perplexity.Evaluate(model, tokens, ctx, MaxWindows,
                (done, total) => report(done, total, "windows"), engine: onDevice == null ? null : engine));

        if (Json) stdout.WriteLine(ToJson(result, tokenizer.AddsBos, onDevice));
        else
        {
            stdout.WriteLine($"model        {ModelLabel}");
            stdout.WriteLine($"text         {textLabel} ({result.TextTokens} tokens)");
            stdout.WriteLine($"bos          {(tokenizer.AddsBos ? "at the start of the stream (the tokenizer's template adds it)" : "none (the tokenizer's template adds none)")}");
            stdout.WriteLine($"windows      {result.Windows} of {result.AvailableWindows} × {result.Ctx} tokens");
            stdout.WriteLine($"weights      {model.Form}");
            stdout.WriteLine($"placement    {engine.Placement}");
            stdout.WriteLine($"predicted    {result.Predicted}");
            stdout.WriteLine($"nll          {result.Nll:F6}");
            stdout.WriteLine($"perplexity   {result.Ppl:F4}");
            stdout.WriteLine($"time         {result.Seconds:F2} s ({result.TokensPerSecond:F0} tokens/s)");
        }
        return 0;
    }

    public static string ToJson(PerplexityResult r, bool bos, DeviceModel? device = null)
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
            if (device != null)
            {
                // Every op runs on the device; these say which block linears ran on the low-bit kernel and which
                // through cuBLAS Sgemm (dense, or a low-bit shape the kernel refuses, dequantized).
                w.WriteString("device", device.Device);
                w.WriteNumber("device_linears", device.OnLowBitKernel);
                w.WriteStartArray("cublas_linears");
                foreach (var l in device.Dense) w.WriteStringValue($"model.layers.{l.Layer}.{l.Part}");
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
