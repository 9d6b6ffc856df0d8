using CommandLine;
using QuantNative.Formats;
using QuantNative.Formats.Gguf;
using QuantNative.Tokenization;
using QuantNative.Tokenization.Gguf;

namespace QuantNative.Cli;

[Verb("export", HelpText = "Write a model (llama2.c, Hugging Face or a qn GPTQ output) as a GGUF file llama.cpp runs.")]
public sealed class ExportCommand : ModelOptions, ICommand
{
    [Option("to", Required = true, HelpText = "Output format: gguf.")]
    public string To { get; set; } = "";

    [Option("out", Required = true, HelpText = "Output .gguf file (must not exist unless --force).")]
    public string Out { get; set; } = "";

    [Option("type", Default = "auto", HelpText = "Type of the block linears: auto (a quantized model's codes in the block-32 type that holds them exactly, " +
        "else the source's float type), f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k. Rows that do not fit a type fall back as llama.cpp's do (listed).")]
    public string Type { get; set; } = "auto";

    [Option("force", HelpText = "Replace an existing output file.")]
    public bool Force { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        if (!string.Equals(To, "gguf", StringComparison.OrdinalIgnoreCase))
            throw new QuantNativeException($"--to {To}: expected gguf");
        var type = ParseType(Type);
        using var source = OpenModel();
        var tokenizer = LoadTokenizer(source.Config.VocabSize);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reports = new ProgressReporter(stderr).Run("export", report => GgufExporter.Write(GgufExportSource.FromSource(source), Out, type,
            GgufTokenizerMetadata.From(tokenizer, source.Config), Path.GetFileNameWithoutExtension(Out), Force,
            progress: (done, total, _) => report(done, total, "tensors")));
        GgufSummary.Write(stdout, reports, Out, source.Config, clock.Elapsed.TotalSeconds);
        return 0;
    }

    /// <summary>--type: auto (null) or a ggml type qn writes; IQ4_NL only as a fallback.</summary>
    public static GgmlType? ParseType(string type)
    {
        if (string.Equals(type, "auto", StringComparison.OrdinalIgnoreCase)) return null;
        if (GgmlTypes.TryParse(type, out var t) && t != GgmlType.IQ4_NL) return t;
        throw new QuantNativeException($"--type {type}: expected auto, f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k or q6_k");
    }
}

/// <summary>What a GGUF export wrote: per linear its type, how, the fallback and the distance from qn's weights; the
/// size and bits per weight as llama.cpp counts them (every tensor's bytes × 8 / its elements).</summary>
public static class GgufSummary
{
    public static void Write(TextWriter o, IReadOnlyList<GgufTensorReport> reports, string path, QuantNative.Model.LlamaConfig c, double seconds)
    {
        int width = Math.Max(10, reports.Max(r => r.Name.Length));
        o.WriteLine($"{"tensor".PadRight(width)}  {"type",-7} {"‖Δ‖/‖Ŵ‖",10} {"max|Δ|",10} {"max|Δm|/s",10}  how");
        foreach (var r in reports)
            o.WriteLine($"{r.Name.PadRight(width)}  {r.Type,-7} {r.RelativeDistance,10:E2} {r.MaxAbsDistance,10:E2} " +
                        $"{(r.MaxOffsetError is { } m ? m.ToString("E2") : "-"),10}  {r.How}");
        foreach (var f in reports.Where(r => r.Fallback != null).GroupBy(r => r.Fallback))
            o.WriteLine($"fallback       {f.Key} ({f.Count()} tensor(s): {string.Join(", ", f.Select(r => r.Name))})");
        if (c.SlidingWindow > 0)
            o.WriteLine($"note           sliding_window {c.SlidingWindow} is written, but llama.cpp's llama architecture attends every " +
                        $"earlier token: outputs equal the source's for contexts up to {c.SlidingWindow} tokens");
        using var file = GgufFile.Open(path);
        long bytes = file.Tensors.Sum(t => t.ByteCount), elements = file.Tensors.Sum(t => t.ElementCount);
        long linBytes = reports.Sum(r => r.Bytes), linElements = reports.Sum(r => r.Rows * r.Columns);
        o.WriteLine($"bits/weight    {bytes * 8.0 / elements:F3} over all tensors ({elements:N0} weights, {bytes:N0} bytes; llama.cpp's count), " +
                    $"{linBytes * 8.0 / linElements:F3} over the block linears");
        o.WriteLine($"output         {path}: {new FileInfo(path).Length:N0} bytes ({seconds:F2} s)");
    }
}
