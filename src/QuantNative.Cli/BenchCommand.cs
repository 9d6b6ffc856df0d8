using CommandLine;
using QuantNative.Benchmarks;
using QuantNative.Interop;
using QuantNative.Model;

namespace QuantNative.Cli;

[Verb("bench", HelpText = "Benchmarks: 'forward' (one block's CPU forward against OpenBLAS sgemm).")]
public sealed class BenchCommand : ICommand
{
    [Value(0, MetaName = "what", Required = true, HelpText = "What to measure: forward.")]
    public string What { get; set; } = "";

    [Option("tokens", Default = 2048, HelpText = "Tokens in the batch (forward).")]
    public int Tokens { get; set; }

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
            case "forward": return Forward(stdout, stderr);
            default: throw new QuantNativeException($"bench: unknown benchmark '{What}' (expected: forward)");
        }
    }

    private int Forward(TextWriter stdout, TextWriter stderr)
    {
        if (Tokens < 1) throw new QuantNativeException($"--tokens must be positive (got {Tokens})");
        var config = new LlamaConfig(Hidden, Intermediate, 1, Heads, KvHeads ?? Heads, 32000, Tokens, 1e-5f, 10000f, false);
        config.Validate("bench forward");
        stderr.WriteLine($"bench forward: hidden {Hidden}, heads {Heads}/{config.NumKvHeads}, intermediate {Intermediate}, " +
                         $"{Tokens} tokens, {Runs} runs (+1 warm-up), {Environment.ProcessorCount} cores");
        var r = ForwardBenchmark.Run(config, Tokens, Runs, Seed);
        stdout.WriteLine($"OpenBLAS: {OpenBlas.Config()}, {OpenBlas.openblas_get_num_threads()} threads");
        stdout.WriteLine($"{"operation",-34} {"median s",10} {"min s",9} {"max s",9} {"GFLOP/s",9}");
        foreach (var m in new[] { r.Sgemm, r.Block })
            stdout.WriteLine($"{m.Name,-34} {m.MedianSeconds,10:F4} {m.MinSeconds,9:F4} {m.MaxSeconds,9:F4} {m.GFlops,9:F1}");
        stdout.WriteLine($"block / sgemm throughput: {r.Ratio:P1} (goal ≥ 70%)");
        return 0;
    }
}
