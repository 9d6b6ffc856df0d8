using System.Diagnostics;
using System.Text.RegularExpressions;
using QuantNative.Backends;
using QuantNative.Cuda;

namespace QuantNative.Verification;

/// <summary>
/// `qn test-backend`'s engine, as ggml's test-backend-ops is for ggml: every op the CUDA backend has (the cases of
/// <see cref="TrainingOpCases"/>, <see cref="LwcOpCases"/>, <see cref="LowBitOpCases"/>, <see cref="LibraryOpCases"/>, <see cref="InferenceOpCases"/>)
/// on fresh random inputs seeded per case, against the C# CPU reference, outputs poisoned first.
/// </summary>
public static class BackendOpRunner
{
    public static IEnumerable<OpCase> AllCases() =>
        TrainingOpCases.All().Concat(LwcOpCases.All()).Concat(LowBitOpCases.All()).Concat(LibraryOpCases.All())
            .Concat(InferenceOpCases.All());

    /// <summary>The cases whose op matches one of the comma-separated <paramref name="pattern"/>s (a '*' glob over the
    /// op name, or a substring of it; case-insensitive; null: all), without the large ones unless asked.</summary>
    public static List<OpCase> Select(string? pattern, bool large)
    {
        var cases = AllCases().Where(c => large || !c.Large).ToList();
        if (string.IsNullOrWhiteSpace(pattern)) return cases;
        var matchers = pattern.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Contains('*')
                ? new Regex("^" + Regex.Escape(p).Replace("\\*", ".*") + "$", RegexOptions.IgnoreCase)
                : new Regex(Regex.Escape(p), RegexOptions.IgnoreCase))
            .ToList();
        var selected = cases.Where(c => matchers.Any(m => m.IsMatch(c.Op))).ToList();
        if (selected.Count == 0)
            throw new QuantNativeException(
                $"--op '{pattern}' matches no op; the ops are: {string.Join(", ", AllCases().Select(c => c.Op).Distinct())}");
        return selected;
    }

    /// <summary>The CUDA backend the cases run on: the GPU's driver runtime or the emulator, with the kernel swaps of
    /// the test hook (<see cref="KernelSwappingRuntime"/>) if any are set.</summary>
    public static CudaBackend OpenDevice(DeviceKind kind)
    {
        ICudaRuntime runtime = kind switch
        {
            DeviceKind.Cuda => DriverCudaRuntime.Create(),
            DeviceKind.Emulate => new EmulatedCudaRuntime(),
            _ => throw new QuantNativeException(
                $"test-backend compares a CUDA backend with the CPU reference: --device cuda or emulate, not {kind}"),
        };
        var swaps = KernelSwappingRuntime.FromEnvironment();
        if (swaps.Count > 0) runtime = new KernelSwappingRuntime(runtime, swaps);
        return new CudaBackend(runtime);
    }

    /// <summary>Runs one case with a generator seeded from <paramref name="seed"/> and the case's name (so a case
    /// draws the same inputs whichever other cases run); an exception is the case's failure, not the run's.</summary>
    public static (OpCaseResult Result, double Seconds) Run(OpCase c, CudaBackend device, int seed)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var checks = c.Run(new OpContext(device, new Random(seed ^ StableHash(c.Name))));
            return (new OpCaseResult(c.Op, c.Shape, checks), clock.Elapsed.TotalSeconds);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string message = e is QuantNativeException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            return (new OpCaseResult(c.Op, c.Shape, [], Error: message.ReplaceLineEndings(" ")), clock.Elapsed.TotalSeconds);
        }
    }

    /// <summary>FNV-1a of the name: string.GetHashCode differs between processes.</summary>
    private static int StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char ch in s) h = (h ^ ch) * 16777619;
        return (int)h;
    }
}
