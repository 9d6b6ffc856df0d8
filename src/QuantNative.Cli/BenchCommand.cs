using CommandLine;
using QuantNative.Backends;
using QuantNative.Benchmarks;
using QuantNative.Cpu;
using QuantNative.Cuda;
using QuantNative.Interop;
using QuantNative.Inference;
using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Cli;

[Verb("bench", HelpText = "Benchmarks: 'forward' (one block's CPU forward against OpenBLAS sgemm), 'fakequant' (fused " +
                          "LWC fake quantization forward/backward on --device), 'gemm' (low-bit linear against cuBLAS " +
                          "fp16), 'svd' (cuSOLVER SVD), 'decode' (tokens/s of generation against the copy bandwidth).")]
public sealed class BenchCommand : ICommand, IDeviceOption
{
    [Value(0, MetaName = "what", Required = true, HelpText = "What to measure: forward (block inference), step (block forward+backward for training), omniquant (the OmniQuant loop's epochs on one block), fakequant, gemm, svd, decode (a model's generation speed).")]
    public string What { get; set; } = "";

    [Option("device", HelpText = DeviceOption.HelpText + " (fakequant: default cpu; gemm and svd: default cuda, they " +
                                   "run on the CUDA runtime only; decode: default cpu, cuda and emulate run the device decode path against the " +
                                   "device's copy bandwidth; forward, step and omniquant are CPU only)")]
    public DeviceKind? DeviceChoice { get; set; }

    public DeviceKind Device => DeviceChoice ?? (What is "gemm" or "svd" ? DeviceKind.Cuda : DeviceKind.Cpu);

    [Option("shapes", HelpText = "gemm: llama7b (W [N, K] = 4096x4096, 11008x4096, 4096x11008) or NxK / MxNxK items, " +
                                 "comma-separated; svd: llama7b or RxC items. Default llama7b (scaled down 16× with " +
                                 "--device emulate).")]
    public string? Shapes { get; set; }

    [Option("batch", HelpText = "gemm: batch sizes M, comma-separated (default 1,16,64,128); svd: matrices per call " +
                                "(default 1).")]
    public string? Batch { get; set; }

    [Option("json", HelpText = "gemm, svd: print one JSON object instead of a table.")]
    public bool Json { get; set; }

    [Option("rows", HelpText = "fakequant: weight rows (default 4096; 64 with --device emulate).")]
    public int? Rows { get; set; }

    [Option("cols", HelpText = "fakequant: weight columns (default 11008; 1000 with --device emulate).")]
    public int? Cols { get; set; }

    [Option("group", Default = 128, HelpText = "fakequant: group size (-1 or 0: per-channel).")]
    public int Group { get; set; }

    [Option("bits", HelpText = "fakequant, omniquant: bits, 2..8 (default 4); gemm: a comma-separated list of 2, 3, 4 " +
                               "(default 2,3,4).")]
    public string? BitsText { get; set; }

    // The range of a single --bits is checked where it is used (LwcShape, QuantizerConfig), with their messages.
    private int Bits => BitsText == null ? 4 : BenchLists.Integers(BitsText, "--bits", int.MinValue, int.MaxValue) is [int b]
        ? b
        : throw new QuantNativeException($"--bits: '{BitsText}': {What} takes one value");

    [Option("tokens", HelpText = "Tokens per window (default: forward 2048, step and omniquant 512); decode: tokens generated per run (default 32).")]
    public int? Tokens { get; set; }

    [Option("model", HelpText = "decode: the model to run (a checkpoint as qn eval takes it); or --shape.")]
    public string? Model { get; set; }

    [Option("shape", HelpText = "decode: a synthetic model of a real shape held in memory: " +
                                "tinyllama-1.1b or llama2-7b, with --bits 2|3|4 (low-bit, --group) or 16 (BF16).")]
    public string? Shape { get; set; }

    [Option("decode-activations", HelpText = "decode: " + Inference.LowBit.DecodeActivationsOption.HelpText + ".")]
    public string? DecodeActivationsText { get; set; }

    [Option("prompt-tokens", Default = 16, HelpText = "decode: prompt tokens prefilled before decoding.")]
    public int PromptTokens { get; set; }

    [Option("windows", Default = 8, HelpText = "omniquant: calibration windows per epoch.")]
    public int Windows { get; set; }

    [Option("epochs", Default = 1, HelpText = "omniquant: epochs to time.")]
    public int Epochs { get; set; }

    [Option("hidden", Default = 4096, HelpText = "Hidden size of the synthetic block (LLaMA-7B: 4096).")]
    public int Hidden { get; set; }

    [Option("heads", Default = 32, HelpText = "Attention heads (LLaMA-7B: 32).")]
    public int Heads { get; set; }

    [Option("kv-heads", HelpText = "Key/value heads (default: --heads).")]
    public int? KvHeads { get; set; }

    [Option("intermediate", Default = 11008, HelpText = "FFN size (LLaMA-7B: 11008).")]
    public int Intermediate { get; set; }

    [Option("runs", HelpText = "Timed runs after one warm-up; the median is reported (default 5; gemm and svd 20).")]
    public int? RunsOption { get; set; }

    private int Runs => RunsOption ?? (What is "gemm" or "svd" ? 20 : 5);

    [Option("seed", Default = 0, HelpText = "Seed of the synthetic weights.")]
    public int Seed { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        // Every benchmark's timed runs show as progress on stderr (Measurement.Of and the decode loop report them); the
        // results are held until the live bar is finished, so that they do not run into it on a terminal.
        var results = new StringWriter();
        int code = new ProgressReporter(stderr).Run($"bench {What}", report =>
        {
            using var _ = BenchmarkProgress.Use(report);
            return Dispatch(results, stderr);
        });
        stdout.Write(results.ToString());
        return code;
    }

    private int Dispatch(TextWriter stdout, TextWriter stderr)
    {
        switch (What)
        {
            case "forward":
                if (Device != DeviceKind.Cpu)
                    throw new QuantNativeException("bench forward runs on the CPU engine only (use --device cpu)");
                return Forward(stdout, stderr);
            case "step":
                if (Device != DeviceKind.Cpu)
                    throw new QuantNativeException("bench step runs on the CPU engine only (use --device cpu)");
                return Step(stdout, stderr);
            case "omniquant":
                if (Device != DeviceKind.Cpu)
                    throw new QuantNativeException("bench omniquant runs on the CPU engine only (use --device cpu)");
                return OmniQuant(stdout, stderr);
            case "fakequant": return FakeQuant(stdout, stderr);
            case "gemm": return Gemm(stdout, stderr);
            case "svd": return Svd(stdout, stderr);
            case "decode": return Decode(stdout, stderr);
            default: throw new QuantNativeException($"bench: unknown benchmark '{What}' (expected: forward, step, omniquant, fakequant, gemm, svd, decode)");
        }
    }

    private int Forward(TextWriter stdout, TextWriter stderr)
    {
        int tokens = Tokens ?? 2048;
        var config = SyntheticConfig("bench forward", tokens);
        stderr.WriteLine($"bench forward: hidden {Hidden}, heads {Heads}/{config.NumKvHeads}, intermediate {Intermediate}, " +
                         $"{tokens} tokens, {Runs} runs (+1 warm-up), {Environment.ProcessorCount} cores");
        var r = ForwardBenchmark.Run(config, tokens, Runs, Seed);
        stdout.WriteLine($"OpenBLAS: {OpenBlas.Config()}, {OpenBlas.openblas_get_num_threads()} threads");
        stdout.WriteLine($"{"operation",-34} {"median s",10} {"min s",9} {"max s",9} {"GFLOP/s",9}");
        foreach (var m in new[] { r.Sgemm, r.Block })
            stdout.WriteLine($"{m.Name,-34} {m.MedianSeconds,10:F4} {m.MinSeconds,9:F4} {m.MaxSeconds,9:F4} {m.GFlops,9:F1}");
        stdout.WriteLine($"block / sgemm throughput: {r.Ratio:P1} (goal ≥ 70%)");
        return 0;
    }

    /// <summary>One training step of a synthetic block: forward keeping activations, then the hand-written backward.</summary>
    private int Step(TextWriter stdout, TextWriter stderr)
    {
        int tokens = Tokens ?? 512;
        var config = SyntheticConfig("bench step", tokens);
        stderr.WriteLine($"bench step: hidden {Hidden}, heads {Heads}/{config.NumKvHeads}, intermediate {Intermediate}, " +
                         $"{tokens} tokens, {Runs} runs (+1 warm-up), {Environment.ProcessorCount} cores");
        var r = TrainingStepBenchmark.Run(config, tokens, Runs, Seed);
        stdout.WriteLine($"OpenBLAS: {OpenBlas.Config()}, {OpenBlas.openblas_get_num_threads()} threads");
        stdout.WriteLine($"{"operation",-34} {"median s",10} {"min s",9} {"max s",9} {"GFLOP/s",9}");
        foreach (var m in new[] { r.Sgemm, r.Forward, r.Backward, r.Step })
            stdout.WriteLine($"{m.Name,-34} {m.MedianSeconds,10:F4} {m.MinSeconds,9:F4} {m.MaxSeconds,9:F4} {m.GFlops,9:F1}");
        stdout.WriteLine($"activations saved per window: {r.SavedBytes / 1048576.0:F1} MiB");
        stdout.WriteLine($"step / sgemm throughput: {r.Ratio:P1} (goal ≥ 60%)");
        return 0;
    }

    /// <summary>The OmniQuant loop on one synthetic block: seconds per epoch (the issue's 7B figure: 8 × 512 tokens).</summary>
    private int OmniQuant(TextWriter stdout, TextWriter stderr)
    {
        int tokens = Tokens ?? 512;
        var config = SyntheticConfig("bench omniquant", tokens, vocab: 1024);
        var quantizer = new QuantizerConfig(Bits, Group);
        stderr.WriteLine($"bench omniquant: hidden {Hidden}, heads {Heads}/{config.NumKvHeads}, intermediate {Intermediate}, " +
                         $"{Windows} windows × {tokens} tokens, {Epochs} epoch(s), W{Bits} g{Group}, {Environment.ProcessorCount} cores");
        var r = new ProgressReporter(stderr).Run("omniquant", report =>
            OmniQuantEpochBenchmark.Run(config, Windows, tokens, Epochs, quantizer, Seed, report));
        stdout.WriteLine($"OpenBLAS: {OpenBlas.Config()}, {OpenBlas.openblas_get_num_threads()} threads");
        stdout.WriteLine($"{r.Sgemm.Name,-34} median {r.Sgemm.MedianSeconds:F4} s  {r.Sgemm.GFlops,8:F1} GFLOP/s");
        stdout.WriteLine($"{"omniquant epoch",-34} {r.SecondsPerEpoch,10:F2} s  {r.EpochGFlops,8:F1} GFLOP/s of block GEMMs " +
                         $"({r.Windows} steps; block total {r.BlockSeconds:F1} s incl. targets and commit)");
        stdout.WriteLine($"block loss {r.InitialLoss:G4} → {r.FinalLoss:G4}; loop memory {r.PeakBytes / 1048576.0:F0} MiB");
        stdout.WriteLine($"epoch / sgemm throughput: {r.Ratio:P1}");
        return 0;
    }

    /// <summary>Generation speed of a checkpoint or a synthetic model of a real shape, against the copy bandwidth.</summary>
    private int Decode(TextWriter stdout, TextWriter stderr)
    {
        if ((Model == null) == (Shape == null))
            throw new QuantNativeException("bench decode: give --model DIR or --shape tinyllama-1.1b|llama2-7b (one of them)");
        int runs = RunsOption ?? 3, tokens = Tokens ?? 32;
        using var device = DecodeDevice.OpenRuntime(Device);
        stderr.WriteLine($"bench decode: {(Model ?? $"synthetic {Shape} W{Bits}")}, prompt {PromptTokens} + {tokens} tokens, " +
                         $"{runs} runs (+1 warm-up), " +
                         (device.Runtime == null ? $"{Environment.ProcessorCount} threads" : device.Runtime.DeviceName));
        using var model = Model != null
            ? InferenceModel.Open(Formats.ModelLoader.Open(Model))
            : DecodeBenchmark.Synthetic(ModelShapes.Get(Shape!, "--shape"), Bits, Group, Seed);
        string activations = device.DecodeActivations(model, DecodeActivationsText);
        var engine = device.Load(model);
        var r = DecodeBenchmark.Run(model, PromptTokens, tokens, runs, Seed, engine, device.Runtime);
        if (Json)
        {
            stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
            {
                model = Model ?? Shape, form = r.Form, device = device.Runtime?.DeviceName ?? "cpu", threads = r.Threads, prompt_tokens = r.PromptTokens,
                decode_tokens = r.DecodeTokens, prompt_tokens_per_second = r.PromptTokensPerSecond,
                tokens_per_second = r.TokensPerSecond, weight_bytes_per_token = r.WeightBytesPerToken,
                weight_gbps = r.WeightGbps, copy_gbps = r.CopyGbps, fraction_of_copy = r.FractionOfCopy,
                cpu_seconds_per_token = r.CpuSecondsPerToken, decode_activations = activations,
            }));
            return 0;
        }
        stdout.WriteLine($"weights            {r.Form} (low-bit decode on {activations} activations)");
        stdout.WriteLine($"placement          {engine.Placement}");
        stdout.WriteLine($"prompt             {r.PromptTokens} tokens at {r.PromptTokensPerSecond:F1} tokens/s");
        stdout.WriteLine($"decode             {r.TokensPerSecond:F2} tokens/s (median of {runs} runs of {r.DecodeTokens} tokens), " +
                         $"{r.CpuSecondsPerToken * 1e3:F1} ms of processor time per token");
        stdout.WriteLine($"weights per token  {r.WeightBytesPerToken / 1e9:F3} GB → {r.WeightGbps:F2} GB/s");
        stdout.WriteLine($"copy bandwidth     {r.CopyGbps:F2} GB/s " + (device.Runtime is { IsEmulated: false }
            ? "(device-to-device, read + write)" : $"({r.Threads} threads, host memory)"));
        stdout.WriteLine($"fraction of copy   {r.FractionOfCopy:P1}");
        return 0;
    }

    private LlamaConfig SyntheticConfig(string what, int tokens, int vocab = 32000)
    {
        if (tokens < 1) throw new QuantNativeException($"--tokens must be positive (got {tokens})");
        var config = new LlamaConfig(Hidden, Intermediate, 1, Heads, KvHeads ?? Heads, vocab, tokens, 1e-5f, 10000f, false);
        config.Validate(what);
        return config;
    }

    /// <summary>The CUDA runtime of --device for gemm and svd (cpu has no kernels to measure).</summary>
    private ICudaRuntime OpenRuntime() => Device switch
    {
        DeviceKind.Cuda => OpenDriver(),
        DeviceKind.Emulate => new EmulatedCudaRuntime(),
        _ => throw new QuantNativeException($"bench {What} measures CUDA kernels: use --device cuda or --device emulate"),
    };

    private ICudaRuntime OpenDriver()
    {
        try
        {
            return DriverCudaRuntime.Create();
        }
        catch (NoCudaDeviceException e)
        {
            // cpu is no alternative here: there is nothing to time without a GPU, only the kernels to check.
            throw new NoCudaDeviceException(e.Reason, $"bench {What} times GPU kernels; --device emulate runs each once for correctness");
        }
    }

    /// <summary>--shapes, llama7b by default; on the emulator llama7b is scaled down 16× (said on stderr).</summary>
    private List<WeightShape> ShapeList(TextWriter stderr, bool allowM)
    {
        var shapes = BenchLists.Shapes(Shapes ?? "llama7b", "--shapes", allowM);
        bool scale = Device == DeviceKind.Emulate && (Shapes ?? "llama7b").Contains("llama7b", StringComparison.OrdinalIgnoreCase);
        if (!scale) return shapes;
        stderr.WriteLine($"bench {What}: llama7b scaled down 16× for the emulator (other --shapes items run as given)");
        return shapes.Select(s => BenchLists.Llama7b.Contains(s) ? BenchLists.ScaledDown(s, 16) : s).ToList();
    }

    private int Gemm(TextWriter stdout, TextWriter stderr)
    {
        var bits = BenchLists.Integers(BitsText ?? "2,3,4", "--bits", 2, 4);
        var batches = BenchLists.Integers(Batch ?? "1,16,64,128", "--batch", 1, 1 << 20);
        var shapes = ShapeList(stderr, allowM: true);
        using var runtime = OpenRuntime();
        stderr.WriteLine($"bench gemm: {runtime.DeviceName}, W [N, K] · x [M, K]ᵀ, group {Group}, fp16 x, float32 y" +
                         (runtime.IsEmulated ? ", one run per case checked (no timings on the emulator)" : $", {Runs} runs (+1 warm-up)"));
        var report = GemmBenchmark.Run(runtime, shapes, bits, Group, batches, Runs, Seed,
            what => stderr.WriteLine($"bench gemm: {what}"));
        if (Json) stdout.WriteLine(BenchTables.GemmJson(report));
        else BenchTables.Gemm(stdout, report);
        if (runtime.IsEmulated && report.Rows.Any(r => !r.Check!.Passed))
            throw new QuantNativeException("bench gemm: the emulated kernels disagree with the CPU reference (see above)");
        return 0;
    }

    private int Svd(TextWriter stdout, TextWriter stderr)
    {
        int batch = Batch == null ? 1 : BenchLists.Integers(Batch, "--batch", 1, 1 << 20) is [int b]
            ? b
            : throw new QuantNativeException($"--batch: '{Batch}': bench svd takes one batch size");
        var shapes = ShapeList(stderr, allowM: false);
        using var runtime = OpenRuntime();
        stderr.WriteLine($"bench svd: {runtime.DeviceName}, batch {batch}" +
                         (runtime.IsEmulated ? ", correctness only (no timings on the emulator)" : $", {Runs} runs (+1 warm-up)"));
        var report = SvdBenchmark.Run(runtime, shapes, batch, Runs, Seed, what => stderr.WriteLine($"bench svd: {what}"));
        if (Json) stdout.WriteLine(BenchTables.SvdJson(report));
        else BenchTables.Svd(stdout, report);
        if (report.Rows.Any(r => !r.Passed))
            throw new QuantNativeException("bench svd: an SVD failed its reconstruction/orthonormality check (see above)");
        return 0;
    }

    private int FakeQuant(TextWriter stdout, TextWriter stderr)
    {
        bool emulate = Device == DeviceKind.Emulate;
        var shape = new LwcShape(Rows ?? (emulate ? 64 : 4096), Cols ?? (emulate ? 1000 : 11008), Group, Bits);
        using var backend = DeviceOption.Open(this);
        stderr.WriteLine($"bench fakequant: {shape}, {backend.Description}" +
                         (emulate ? ", one run checked against the CPU backend (no timings on the emulator)" : $", {Runs} runs (+1 warm-up)"));
        var r = FakeQuantBenchmark.Run(backend, shape, Runs, Seed);
        var c = r.Check;
        stdout.WriteLine($"LWC fake quantization {shape} on {r.Device}");
        if (r.Forward != null)
        {
            stdout.WriteLine($"{"operation",-24} {"median ms",10} {"GB/s",9}{(r.Copy != null ? $" {"of copy",8}" : "")}");
            foreach (var t in new[] { r.Forward, r.Backward!, r.Copy }.OfType<FakeQuantBenchmark.Timed>())
                stdout.WriteLine($"{t.Name,-24} {t.MedianMs,10:F3} {t.GBps,9:F1}" +
                                 (r.Copy != null ? $" {t.GBps / r.Copy.GBps,8:P0}" : ""));
            if (r.Copy != null && shape.Elements * 4L < 64L << 20)
                stdout.WriteLine("note: the weights fit in L2 at this shape; the numbers measure L2, not DRAM bandwidth");
        }
        if (backend.Kind == DeviceKind.Cpu)
        {
            stdout.WriteLine("check: none (the cpu backend is the reference the other devices are checked against)");
            return 0;
        }
        stdout.WriteLine($"check against the CPU backend: codes {c.Elements - c.CodesDiffer}/{c.Elements} equal, " +
                         $"ŵ {c.Elements - c.WqDiffer}/{c.Elements} equal, saved state {c.SavedDiffer} differ; " +
                         $"max relative error du {c.DuMaxErr:E1}, dl {c.DlMaxErr:E1}, dW {c.DwMaxErr:E1} " +
                         $"(tolerance {FakeQuantBenchmark.GradientTolerance:E0})");
        bool passed = c.Passed(FakeQuantBenchmark.GradientTolerance);
        if (!passed && backend.Kind == DeviceKind.Emulate)
            throw new QuantNativeException("bench fakequant: the emulated kernels disagree with the CPU backend (see above)");
        stdout.WriteLine(passed ? "result: match" : "result: differs (on a GPU, expf may move a scale by an ulp and a code by one)");
        return 0;
    }
}
