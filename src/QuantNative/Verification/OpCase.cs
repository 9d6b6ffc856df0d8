namespace QuantNative.Verification;

/// <summary>One output of one case: its error under a measure, and the tolerance (from <see cref="Tolerances"/>) it
/// must stay below; a tolerance of 0 means bit-exact (the error is then a count of differing elements).</summary>
public sealed record OpCheck(string Output, double Error, double Tolerance, string Measure)
{
    public bool Passed => double.IsFinite(Error) && (Tolerance == 0 ? Error == 0 : Error < Tolerance);

    /// <summary>How far into its tolerance the error is (≥ 1 fails), to pick a case's worst output.</summary>
    public double Ratio => Passed ? (Tolerance == 0 ? 0 : Error / Tolerance) : double.PositiveInfinity;

    public static OpCheck BitExact(string output, int mismatches) => new(output, mismatches, 0, "elements differing");

    public static OpCheck Relative(string output, double error, double tolerance) =>
        new(output, error, tolerance, "‖Δ‖/‖cpu‖");
}

/// <summary>One op on one shape: runs on the reference and the device with fresh random inputs from
/// <paramref name="Run"/>'s generator and returns a check per output. <paramref name="Large"/> cases run only with
/// `--large` (sizes a GPU handles in a blink but the emulator takes seconds over).</summary>
public sealed record OpCase(string Op, string Shape, Func<OpContext, IReadOnlyList<OpCheck>> Run, bool Large = false)
{
    public string Name => $"{Op} {Shape}";
}

/// <summary>What a case runs against: the device backend (with its CUDA runtime) and a generator seeded per case.</summary>
public sealed class OpContext(QuantNative.Cuda.CudaBackend device, Random random)
{
    public QuantNative.Cuda.CudaBackend Device { get; } = device;
    public QuantNative.Cuda.ICudaRuntime Runtime => Device.Runtime;
    public Random Random { get; } = random;

    /// <summary>A fresh CPU/device pair over the shared device backend (its buffers freed when it is).</summary>
    public DevicePair Pair() => new(Device, ownsDevice: false);

    /// <summary>Runs <paramref name="op"/> on a fresh pair with this case's generator, then frees the pair.</summary>
    public IReadOnlyList<OpCheck> OnPair(Func<DevicePair, Random, IReadOnlyList<OpCheck>> op)
    {
        using var pair = Pair();
        return op(pair, Random);
    }
}

/// <summary>The outcome of one case: its checks, or why it was skipped, or the error it raised.</summary>
public sealed record OpCaseResult(string Op, string Shape, IReadOnlyList<OpCheck> Checks, string? Skipped = null,
    string? Error = null)
{
    public bool Passed => Skipped != null || (Error == null && Checks.Count > 0 && Checks.All(c => c.Passed));

    /// <summary>The check closest to (or furthest past) its tolerance.</summary>
    public OpCheck? Worst => Checks.OrderByDescending(c => c.Ratio).ThenByDescending(c => c.Error).FirstOrDefault();
}
