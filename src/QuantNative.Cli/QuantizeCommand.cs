using CommandLine;
using QuantNative.Evaluation;
using QuantNative.Formats.Gptq;
using QuantNative.Quantization;
using QuantNative.Tokenization;

namespace QuantNative.Cli;

[Verb("quantize", HelpText = "Quantize a model (RTN or GPTQ, one block at a time) and write a GPTQ-format Hugging Face directory.")]
public sealed class QuantizeCommand : ModelOptions, ICommand
{
    [Option("calib", HelpText = "UTF-8 calibration text (required by gptq; rtn needs none).")]
    public string? Calib { get; set; }

    [Option("method", Default = "gptq", HelpText = "rtn or gptq.")]
    public string Method { get; set; } = "gptq";

    [Option("wbits", Required = true, HelpText = "Weight bits: 2, 3, 4 or 8.")]
    public int WBits { get; set; }

    [Option("group", Default = -1, HelpText = "Group size along the input dimension; -1 for per-channel.")]
    public int Group { get; set; } = -1;

    [Option("sym", HelpText = "Symmetric quantization (default asymmetric).")]
    public bool Sym { get; set; }

    [Option("act-order", HelpText = "GPTQ: quantize columns by descending Hessian diagonal (desc_act).")]
    public bool ActOrder { get; set; }

    [Option("static-groups", HelpText = "GPTQ: group parameters from the original weights, before any update.")]
    public bool StaticGroups { get; set; }

    [Option("damp", Default = 0.01, HelpText = "GPTQ dampening: fraction of mean(diag H) added to the diagonal.")]
    public double Damp { get; set; } = 0.01;

    [Option("nsamples", Default = CalibrationSampler.DefaultSamples, HelpText = "Calibration windows.")]
    public int NSamples { get; set; } = CalibrationSampler.DefaultSamples;

    [Option("seqlen", Default = CalibrationSampler.DefaultSequenceLength, HelpText = "Tokens per calibration window (capped at the model's context).")]
    public int SeqLen { get; set; } = CalibrationSampler.DefaultSequenceLength;

    [Option("seed", Default = 0, HelpText = "Seed of the calibration window offsets.")]
    public int Seed { get; set; }

    [Option("format", Default = "v1", HelpText = "Checkpoint format: v1 (gptq; zero points of 0 are clamped to 1 and counted) or v2 (gptq_v2; zeros stored as they are).")]
    public string Format { get; set; } = "v1";

    [Option("force", HelpText = "Replace an existing output directory.")]
    public bool Force { get; set; }

    [Option("out", Required = true, HelpText = "Output directory (must not exist unless --force).")]
    public string Out { get; set; } = "";

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        // Every option is checked before any work, so a typo costs nothing.
        var settings = QuantizeSettings.Parse(Method, WBits, Group, Sym, ActOrder, StaticGroups, Damp, Format);
        if (!Force && (Directory.Exists(Out) || File.Exists(Out)))
            throw new QuantNativeException($"--out {Out}: already exists (use --force to replace it)");

        using var source = OpenModel();
        var c = source.Config;
        var tokenizer = LoadTokenizer(c.VocabSize);
        int[][]? windows = null;
        string calibLine = "none (rtn needs no calibration)";
        if (settings.Method.NeedsCalibration)
        {
            if (Calib == null) throw new QuantNativeException($"--calib: method {settings.Method.Name} needs a calibration text");
            int[] tokens = tokenizer.Encode(TextFile.ReadUtf8(Calib, "--calib"), addBos: true);
            windows = CalibrationSampler.Sample(tokens, NSamples, SeqLen, Seed, c.MaxPositionEmbeddings, $"--calib {Calib}");
            calibLine = $"{windows.Length} windows × {windows[0].Length} tokens, seed {Seed}, from {Calib} ({tokens.Length} tokens)";
        }

        var model = new ProgressReporter(stderr).Run("quantize", report =>
            SequentialQuantizer.Run(source, windows, settings.Method, settings.Quantizer, settings.Format, report));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        GptqCheckpointWriter.Write(model, Out, Force, TokenizerFiles.For(tokenizer));
        double writeSeconds = clock.Elapsed.TotalSeconds;

        QuantizeSummary.Write(stdout, model, Model, calibLine, Out, writeSeconds);
        return 0;
    }
}
