using System.Globalization;
using CommandLine;
using QuantNative.Backends;
using QuantNative.Verification;

namespace QuantNative.Cli;

[Verb("test-backend", HelpText = "Run every op of the CUDA backend (training kernels forward and backward, LWC fake " +
                                 "quantization, SDE helpers, AdamW, low-bit GEMV/GEMM/split-K/gather, cuBLAS, cuSOLVER) " +
                                 "on random inputs against the C# CPU reference; one line per case, exit code 1 on any failure.")]
public sealed class TestBackendCommand : ICommand
{
    [Option("device", Default = DeviceKind.Cuda, HelpText = "cuda (a GPU: kernels from the fatbins, cuBLAS/cuSOLVER) or " +
                                                            "emulate (the same kernels on the CPU emulator).")]
    public DeviceKind Device { get; set; }

    [Option("op", HelpText = "Only the ops matching these comma-separated patterns (a substring of the op name, or a " +
                             "'*' glob), e.g. 'attention', 'lowbit-*', 'cublas*,rope'.")]
    public string? Op { get; set; }

    [Option("large", HelpText = "Add the larger shapes (LLaMA-wide low-bit linears, 4096-row fake quantization, ...): " +
                                "seconds on a GPU, minutes on the emulator.")]
    public bool Large { get; set; }

    [Option("json", HelpText = "Print one JSON object (every case with every output's error and tolerance) instead of lines.")]
    public bool Json { get; set; }

    [Option("list", HelpText = "List the selected cases without running them.")]
    public bool List { get; set; }

    [Option("seed", Default = 1, HelpText = "Seed of the random inputs (each case mixes in its name).")]
    public int Seed { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        var cases = BackendOpRunner.Select(Op, Large);
        if (List)
        {
            foreach (var c in cases) stdout.WriteLine($"{c.Op,-24} {c.Shape}");
            return 0;
        }
        using var device = BackendOpRunner.OpenDevice(Device);
        var results = new List<(OpCaseResult Result, double Seconds)>();
        if (!Json) stdout.WriteLine($"{"op",-24} {"shape",-44} {"worst output",-22} {"error",9} {"tolerance",9}  result");
        foreach (var c in cases)
        {
            var run = BackendOpRunner.Run(c, device, Seed);
            results.Add(run);
            if (!Json) stdout.WriteLine(Line(run.Result));
        }
        int failed = results.Count(r => !r.Result.Passed);
        int skipped = results.Count(r => r.Result.Skipped != null);
        if (Json) WriteJson(stdout, device.Description, results, failed, skipped);
        else stdout.WriteLine($"{results.Count - failed - skipped} passed, {failed} failed, {skipped} skipped " +
                              $"({device.Description}, seed {Seed})");
        return failed == 0 ? 0 : 1;
    }

    private static string Line(OpCaseResult r)
    {
        string head = $"{r.Op,-24} {r.Shape,-44} ";
        if (r.Skipped != null) return head + $"skipped: {r.Skipped}";
        if (r.Error != null) return head + $"FAIL: {r.Error}";
        var w = r.Worst!;
        string tol = w.Tolerance == 0 ? "exact" : w.Tolerance.ToString("0.0E+0", CultureInfo.InvariantCulture);
        string err = w.Tolerance == 0 ? $"{w.Error:0} diff" : w.Error.ToString("0.0E+0", CultureInfo.InvariantCulture);
        return head + $"{w.Output,-22} {err,9} {tol,9}  {(r.Passed ? "pass" : "FAIL")}";
    }

    private void WriteJson(TextWriter stdout, string device, List<(OpCaseResult Result, double Seconds)> results,
        int failed, int skipped) => stdout.WriteLine(BenchTables.Json(w =>
    {
        w.WriteString("device", device);
        w.WriteNumber("seed", Seed);
        w.WriteBoolean("large", Large);
        w.WriteNumber("cases", results.Count);
        w.WriteNumber("passed", results.Count - failed - skipped);
        w.WriteNumber("failed", failed);
        w.WriteNumber("skipped", skipped);
        w.WriteStartArray("results");
        foreach (var (r, seconds) in results)
        {
            w.WriteStartObject();
            w.WriteString("op", r.Op);
            w.WriteString("shape", r.Shape);
            w.WriteString("result", r.Skipped != null ? "skipped" : r.Passed ? "pass" : "FAIL");
            if (r.Skipped != null) w.WriteString("skipped", r.Skipped);
            if (r.Error != null) w.WriteString("error", r.Error);
            w.WriteNumber("seconds", Math.Round(seconds, 4));
            w.WriteStartArray("checks");
            foreach (var c in r.Checks)
            {
                w.WriteStartObject();
                w.WriteString("output", c.Output);
                // JSON has no infinity or NaN: an unwritten (NaN) output's error is null.
                BenchTables.Number(w, "error", double.IsFinite(c.Error) ? c.Error : null);
                w.WriteNumber("tolerance", c.Tolerance);
                w.WriteString("measure", c.Measure);
                w.WriteBoolean("passed", c.Passed);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }));
}
