using CommandLine;
using QuantNative.Backends;
using QuantNative.Benchmarks;
using QuantNative.Interop;
using QuantNative.Model;
using QuantNative.Quantization;
using QuantNative.Quantization.Lwc;

namespace QuantNative.Cli;

[Verb("bench", HelpText = "Benchmarks: 'forward' (one block's CPU forward against OpenBLAS sgemm), 'fakequant' (fused " +
                          "LWC fake quantization forward/backward on --device).")]
public sealed class BenchCommand : ICommand, IDeviceOption
{
    [Value(0, MetaName = "what", Required = true, HelpText = "What to measure: forward (block inference), step (block forward+backward for training), omniquant (the OmniQuant loop's epochs on one block), fakequant.")]
    public string What { get; set; } = "";

    [Option("device", Default = DeviceKind.Cpu, HelpText = DeviceOption.HelpText + " (fakequant; forward is CPU only)")]
    public DeviceKind Device { get; set; }

    [Option("rows", HelpText = "fakequant: weight rows (default 4096; 64 with --device emulate).")]
    public int? Rows { get; set; }

    [Option("cols", HelpText = "fakequant: weight columns (default 11008; 1000 with --device emulate).")]
    public int? Cols { get; set; }

    [Option("group", Default = 128, HelpText = "fakequant: group size (-1 or 0: per-channel).")]
    public int Group { get; set; }

    [Option("bits", Default = 4, HelpText = "fakequant: bits, 2..8.")]
    public int Bits { get; set; }

    [Option("tokens", HelpText = "Tokens per window (default: forward 2048, step and omniquant 512).")]
    public int? Tokens { get; set; }

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

    [Option("runs", Default = 5, HelpText = "Timed runs after one warm-up; the median is reported.")]
    public int Runs { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the synthetic weights.")]
    public int Seed { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
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
            default: throw new QuantNativeException($"bench: unknown benchmark '{What}' (expected: forward, step, omniquant, fakequant)");
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

    private LlamaConfig SyntheticConfig(string what, int tokens, int vocab = 32000)
    {
        if (tokens < 1) throw new QuantNativeException($"--tokens must be positive (got {tokens})");
        var config = new LlamaConfig(Hidden, Intermediate, 1, Heads, KvHeads ?? Heads, vocab, tokens, 1e-5f, 10000f, false);
        config.Validate(what);
        return config;
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
