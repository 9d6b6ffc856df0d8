using System.Text.Json;
using CommandLine;
using QuantNative.Backends;
using QuantNative.Inference;
using QuantNative.Model;

namespace QuantNative.Cli;

[Verb("generate", HelpText = "Continue a prompt, streaming the text as it is produced.")]
public sealed class GenerateCommand : ModelOptions, ICommand, IDeviceOption
{
    [Option("device", Default = DeviceKind.Cpu, HelpText = DeviceOption.HelpText + " cuda and emulate run every step " +
        "of the forward on the device (embedding, norms, RoPE, attention over a device-resident KV cache, the low-bit " +
        "kernels for quantized linears, cuBLAS for dense ones and the head, the greedy arg-max), sending back only the " +
        "next token (greedy) or the last logits (sampling).")]
    public DeviceKind Device { get; set; }

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

    [Option("prompt-ids", HelpText = "Token ids to continue, comma-separated, used as they are (instead of --prompt): " +
                                     "to compare with another stack's tokenization.")]
    public string? PromptIds { get; set; }

    [Option("ignore-eos", HelpText = "Do not stop at BOS/EOS: generate --max-tokens tokens.")]
    public bool IgnoreEos { get; set; }

    [Option("decode-activations", HelpText = Inference.LowBit.DecodeActivationsOption.HelpText + ".")]
    public string? DecodeActivationsText { get; set; }

    [Option("json", HelpText = "Print one JSON object (prompt ids, generated ids, text, stop reason) instead of streaming.")]
    public bool Json { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        var sampler = new Sampler(Temperature, TopP, Seed);
        if (MaxTokens < 0) throw new QuantNativeException($"--max-tokens must be ≥ 0 (got {MaxTokens})");
        using var device = DecodeDevice.OpenRuntime(Device);
        using var model = InferenceModel.Open(OpenModel());
        device.DecodeActivations(model, DecodeActivationsText);
        var engine = device.Load(model);
        var tokenizer = LoadTokenizer(model.Config.VocabSize);
        if (PromptIds != null && Prompt != "")
            throw new QuantNativeException("give --prompt or --prompt-ids, not both");
        Action<string> onText = Json ? _ => { } : piece =>
        {
            stdout.Write(piece);
            stdout.Flush();
        };
        int[]? ids = PromptIds == null ? null : ParseIds(PromptIds);
        var result = ids != null || IgnoreEos
            ? TextGenerator.Generate(model, tokenizer, ids ?? tokenizer.EncodeAsTemplate(Prompt), MaxTokens, sampler,
                stopAtEnd: !IgnoreEos, onText, engine: engine)
            : TextGenerator.Generate(model, tokenizer, Prompt, MaxTokens, sampler, onText, engine: engine);
        if (Json) stdout.WriteLine(ToJson(ids ?? tokenizer.EncodeAsTemplate(Prompt), result));
        else stdout.WriteLine();
        stderr.WriteLine($"[prompt {result.PromptTokens} tokens at {result.PromptTokensPerSecond:F1} tokens/s; generated " +
                         $"{result.GeneratedTokens} tokens at {result.GeneratedTokensPerSecond:F1} tokens/s; {result.Seconds:F2} s " +
                         $"in all; stop: {result.StopReason}; weights: {model.Form}; {engine.Placement}]");
        return 0;
    }

    private static int[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ids[i]))
                throw new QuantNativeException($"--prompt-ids: '{parts[i]}' is not a token id (expected comma-separated non-negative integers)");
        if (ids.Length == 0) throw new QuantNativeException("--prompt-ids: no ids given");
        return ids;
    }

    private static string ToJson(int[] promptIds, GenerationResult r)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("prompt_ids");
            foreach (int id in promptIds) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("ids");
            foreach (int id in r.Ids) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteString("text", r.Text);
            w.WriteString("stop", r.StopReason);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
