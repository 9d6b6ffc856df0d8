using CommandLine;
using QuantNative.Backends;
using QuantNative.Evaluation;
using QuantNative.Formats;
using QuantNative.Formats.Gguf;
using QuantNative.Formats.Gptq;
using QuantNative.Quantization;
using QuantNative.Quantization.Learned;
using QuantNative.Tokenization;
using QuantNative.Tokenization.Gguf;

namespace QuantNative.Cli;

[Verb("quantize", HelpText = "Quantize a model (RTN, GPTQ, OmniQuant, LSI or CQE+, one block at a time) and write a GPTQ-format Hugging Face directory.")]
public sealed class QuantizeCommand : QuantizerOptions, ICommand, IDeviceOption
{
    [Option("device", Default = DeviceKind.Cpu, HelpText = DeviceOption.HelpText + " omniquant, lsi, cqe+: their training steps (LWC, SDE, cross-layer learning), targets and calibration activations run there; the commit and rtn/gptq run on the CPU.")]
    public DeviceKind Device { get; set; } = DeviceKind.Cpu;

    [Option("calib", HelpText = "UTF-8 calibration text (required by every method but rtn); default for the built-in model (and models made from it): its TinyStories calibration slice.")]
    public string? Calib { get; set; }

    [Option("method", Default = "gptq", HelpText = "rtn, gptq, omniquant (learnable weight clipping, block-wise training), lsi (+ learnable singular values) or cqe+ (+ SDE and cross-layer learning).")]
    public string Method { get; set; } = "gptq";

    [Option("wbits", Required = true, HelpText = "Weight bits: 2, 3, 4 or 8 (5 and 6 with --format gguf).")]
    public int WBits { get; set; }

    [Option("group", Default = -1, HelpText = "Group size along the input dimension; -1 for per-channel.")]
    public int Group { get; set; } = -1;

    // Nullable so an explicit value can be told from the default: omniquant refuses an explicit length beyond the
    // model's context (its training would silently run on shorter windows), while the default is capped.
    [Option("seqlen", HelpText = "Tokens per calibration window (default 2048, capped at the model's context; omniquant: at most the context).")]
    public int? SeqLen { get; set; }

    // Test hook for resume: stops (exit 1) right after block N's state is saved, as if the run had been killed.
    [Option("stop-after-block", Hidden = true)]
    public int? StopAfterBlock { get; set; }

    [Option("force", HelpText = "Replace an existing output directory.")]
    public bool Force { get; set; }

    [Option("type", Default = "auto", HelpText = "--format gguf: the block linears' GGUF type, as qn export --type (auto: the block-32 type that holds the codes exactly; q2_k..q6_k are fitted to the learned W' from the learned clipping ranges).")]
    public string Type { get; set; } = "auto";

    [Option("free-min", HelpText = "omniquant, lsi, cqe+ with --format gguf: learn each group's minimum as a free float offset (x = d·q + m, the grid of GGUF's Q4_1/Q5_1 and the K-quants' mins) instead of an integer zero point.")]
    public bool FreeMin { get; set; }

    [Option("lwc-init-search", HelpText = "omniquant, lsi, cqe+: start each group's clipping from an importance-weighted search (the error of the group's weights under the fake quantizer, each column weighted by its calibration inputs' Σx²) instead of σ(4).")]
    public bool LwcInitSearch { get; set; }

    [Option("max-memory", HelpText = "Refuse to start when the run's estimated peak (host) memory exceeds this (bytes, or with K, M, G: 20G); default: the memory this machine has available.")]
    public string? MaxMemory { get; set; }

    [Option("plot", HelpText = "omniquant, lsi, cqe+: also draw the per-block training loss curves into this PNG (an SVG beside it).")]
    public string? Plot { get; set; }

    [Option("out", Required = true, HelpText = "Output directory, or the .gguf file with --format gguf (must not exist unless --force).")]
    public string Out { get; set; } = "";

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        // Every option is checked before any work, so a typo costs nothing.
        OutOption.Check(Out);
        // GGUF stores any zero point (Q4_1/Q5_1's m), so the codes are made as v2 makes them.
        bool gguf = string.Equals(Format, "gguf", StringComparison.OrdinalIgnoreCase);
        var ggufType = gguf ? ExportCommand.ParseType(Type) : null;
        if (!gguf && !string.Equals(Type, "auto", StringComparison.OrdinalIgnoreCase))
            throw new QuantNativeException($"--type {Type}: only with --format gguf");
        var settings = QuantizeSettings.Parse(Method, WBits, Group, Sym, ActOrder, StaticGroups, Damp, gguf ? "v2" : Format, gguf, FreeMin);
        var cqe = QuantizeSettings.Cqe(settings.Method, Sde, SdeLr, Cll, CllWeight, CllLookAhead, InitFrom);
        bool learned = settings.Method.IsLearned;
        if (Plot != null && !learned)
            throw new QuantNativeException($"--plot {Plot}: only the learned methods (omniquant, lsi, cqe+) have training loss " +
                                           $"curves; --method {settings.MethodName} has none (leave --plot out)");
        if (Plot != null && !Plot.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new QuantNativeException($"--plot {Plot}: expected a .png path (the SVG is written beside it)");
        if (LwcInitSearch && !learned)
            throw new QuantNativeException($"--lwc-init-search: only the learned methods (omniquant, lsi, cqe+) have clipping to start; " +
                                           $"--method {settings.MethodName} has none (leave it out)");
        if (Device != DeviceKind.Cpu && !learned)
            throw new QuantNativeException($"--device {Device.ToString().ToLowerInvariant()}: only --method omniquant, lsi and " +
                                           $"cqe+ train on a device; --method {settings.MethodName} runs on the CPU (leave --device out)");
        using var backend = Device == DeviceKind.Cpu ? null : DeviceOption.Open(this);
        var options = learned
            ? QuantizeSettings.Learned(Epochs, LwcLr, Seed, WorkDirectory(Out), StopAfterBlock, cqe, backend,
                keepLearnedWeights: ggufType is { } t && !t.IsFloat(), searchInit: LwcInitSearch)
            : new LearnedOptions();
        var quantizer = settings.Create(options);
        if (!Force && (Directory.Exists(Out) || File.Exists(Out)))
            throw new QuantNativeException($"--out {Out}: already exists (use --force to replace it)");
        // Held until the output is written: a second run into the same --out is refused at once.
        using var workLock = options.WorkDirectory is { } workDir ? WorkDirectoryLock.Acquire(workDir) : null;

        using var source = OpenModel();
        var c = source.Config;
        var tokenizer = LoadTokenizer(c.VocabSize);
        int[][]? windows = null;
        string calibLine = "none (rtn needs no calibration)";
        if (learned && SeqLen > c.MaxPositionEmbeddings)
            throw new QuantNativeException($"--seqlen {SeqLen}: calibration windows longer than the model's context of " +
                                           $"{c.MaxPositionEmbeddings} tokens; expected at most {c.MaxPositionEmbeddings}");
        if (quantizer.NeedsCalibration)
        {
            var (calibPath, calibLabel) = TextOrBuiltin(Calib, "--calib", heldOut: false, tokenizer, stderr);
            int[] tokens = tokenizer.EncodeAsTemplate(TextFile.ReadUtf8(calibPath, "--calib"));
            var (count, length) = CalibrationShape(SeqLen, builtinText: Calib == null);
            windows = CalibrationSampler.Sample(tokens, count, length, Seed, c.MaxPositionEmbeddings, $"--calib {calibLabel}");
            if (CalibrationSampler.OverlapWarning(tokens.Length, windows.Length, windows[0].Length) is { } warning)
                stderr.WriteLine($"warning: {warning}");
            calibLine = $"{windows.Length} windows × {windows[0].Length} tokens, seed {Seed}, from {calibLabel} ({tokens.Length} tokens)" +
                        (Calib == null && (NSamples == null || SeqLen == null) ? "; the built-in slice's default shape, --nsamples/--seqlen change it" : "");
        }

        CheckMemory(c, settings, cqe, windows, stderr);
        // The output is written as the run goes, one finished block at a time, so the run never holds the quantized
        // model whole: a GPTQ directory's safetensors file, or a GGUF file from a writer thread.
        using var stream = gguf ? null : GptqCheckpointStream.Begin(c, settings.Quantizer, settings.Format,
            Quantization.Pipeline.BlockPipeline.SourceDTypes(source), Out, Force);
        using var ggufStream = gguf ? new GgufBlockStream(source, Quantization.Pipeline.BlockPipeline.SourceDTypes(source),
            settings.MethodName, Out, ggufType,
            GgufTokenizerMetadata.From(tokenizer, c), Path.GetFileNameWithoutExtension(Out), Force) : null;
        var model = new ProgressReporter(stderr).Run("quantize", report => quantizer.Quantize(source, windows, report,
            sink: (IQuantizedBlockSink?)stream ?? ggufStream));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<GgufTensorReport>? ggufReports = null;
        if (ggufStream != null)
            ggufReports = new ProgressReporter(stderr).Run("write gguf", report => ggufStream.Finish(model.Model,
                progress: (done, total, _) => report(done, total, "tensors")));
        else
        {
            var extra = TokenizerFiles.For(tokenizer).Concat(CheckpointCompanions.For(Model)).ToList();
            if (model.Clipping is { Count: > 0 } clipping) extra.Add(clipping.ToExtraFile());
            stream!.Finish(model.Model, extra);
        }
        double writeSeconds = clock.Elapsed.TotalSeconds;
        workLock?.Complete(); // the output is complete: the resume state has done its job and goes with the lock

        QuantizeSummary.Write(stdout, model, ModelLabel, calibLine, Out, writeSeconds, ggufReports);
        if (Plot != null && model.Learned is { } report)
        {
            if (Plots.LossCurveFigure.Any([report]))
            {
                Plots.FigureFiles.Write(Plots.LossCurveFigure.Create($"{ModelLabel}: {settings.MethodName} W{WBits} " +
                    $"{(Group < 0 ? "per-channel" : $"g{Group}")}, block-wise training loss", [(settings.MethodName, report)]), Plot, svg: true);
                stdout.WriteLine($"plot           {Plot} (+ {Path.ChangeExtension(Plot, ".svg")})");
            }
            else stdout.WriteLine($"plot           none: every block was trained by the run this one resumed (their curves are not kept)");
        }
        return 0;
    }

    /// <summary>Prints the peak memory the run will reach (with --device, the device's beside the host's), and
    /// refuses a run whose host peak cannot fit. The device figure is for information: the runtime does not say how
    /// much device memory is free.</summary>
    private void CheckMemory(Model.LlamaConfig c, QuantizeSettings settings, Quantization.Learned.Cqe.CqeOptions? cqe,
        int[][]? windows, TextWriter stderr)
    {
        long? limit = MaxMemory == null ? null : ByteSize.Parse(MaxMemory, "--max-memory");
        int count = windows?.Length ?? 0, length = windows?[0].Length ?? 0;
        var (memory, device) = settings.Method.IsLearned
            ? LearnedMemory.Estimate(c, settings.Quantizer, count, length, cqe, Device)
            : (Quantization.Pipeline.QuantizationMemory.Estimate(c, settings.Quantizer, count, length,
                gptq: windows != null, actOrder: ActOrder), null);
        if (limit is { } max) memory.EnsureFits(max, $"--max-memory {MaxMemory}");
        else if (Cpu.AvailableMemory.Bytes() is { } available) memory.EnsureFits(available, "this machine's available memory");
        stderr.WriteLine($"memory: {memory.Describe()}");
        if (device != null) stderr.WriteLine($"device memory: {device.Describe()}");
    }

    /// <summary>Where the learned methods keep their resume state: beside the output directory, removed once the
    /// output is written. A work directory under the name earlier versions used (.omniquant-work) holds state in their
    /// layout: refused with what to do rather than resumed or silently left beside a new one.</summary>
    public static string WorkDirectory(string outDir)
    {
        string stem = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        if (Directory.Exists(stem + ".omniquant-work"))
            throw new QuantNativeException($"--out {outDir}: {stem}.omniquant-work is the resume state of an earlier qn " +
                                           "version, which this one does not continue; delete it and run the command again");
        return stem + ".qn-work";
    }
}
