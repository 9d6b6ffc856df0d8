using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Pipeline;
using QuantNative.Quantization.Sequential;

namespace QuantNative.Quantization.Methods;

/// <summary>A quantization method ready to run on a model: what `qn quantize` and `qn ablate` call, whatever the method.</summary>
public interface IModelQuantizer
{
    string Name { get; }

    /// <summary>Whether the method reads calibration windows (RTN does not).</summary>
    bool NeedsCalibration { get; }

    /// <param name="sink">Where each finished block goes (the output checkpoint, written as the run goes); the
    /// result then holds no blocks (<see cref="QuantizedModel.BlocksStreamed"/>). Null: the result holds them all.</param>
    QuantizationResult Quantize(IModelSource source, int[][]? calibration, Action<long, long, string>? progress = null,
        CancellationToken cancel = default, IQuantizedBlockSink? sink = null);
}

/// <summary>Everything a method may take: the quantizer and checkpoint format, GPTQ's options, the learned methods'
/// options (their CQE+ part is filled from the entry's <see cref="QuantizationMethod.CqeParts"/>).</summary>
public sealed record MethodSettings(QuantizerConfig Quantizer, GptqCheckpointFormat Format, GptqOptions Gptq,
    LearnedOptions Learned);

/// <summary>One row of the method table: name, what it learns, its defaults, the options it takes, and how it is made.
/// For the learned methods <see cref="CqeParts"/> says which parts of the configured CQE+ settings it uses (null: plain
/// OmniQuant) and <see cref="DefaultMask"/>/<see cref="DefaultDepth"/> what --sde and --cll default to.</summary>
public sealed record QuantizationMethod(string Name, string Learns, string Defaults, IReadOnlyList<string> Options,
    Func<MethodSettings, IBlockLearner> Learner)
{
    /// <summary>Block-wise learned (LWC, asymmetric only; trains on --device; resumable).</summary>
    public bool IsLearned { get; init; }

    /// <summary>LSI: SDE with the diagonal mask and no cross-layer learning, whatever --sde and --cll say otherwise.</summary>
    public bool DiagonalSdeOnly { get; init; }
    public bool NeedsCalibration { get; init; } = true;
    public Func<CqeOptions, CqeOptions?>? CqeParts { get; init; }
    public string? DefaultMask { get; init; }
    public int DefaultDepth { get; init; }

    /// <summary>Only a row of `qn ablate` (a part of CQE+ on its own), not a `qn quantize` method.</summary>
    public bool AblationOnly { get; init; }

    /// <summary>The ablation table's label (the CQE+ parts as "+lsi", "+sde", "+cll").</summary>
    public string Label { get; init; } = Name;

    public IModelQuantizer Create(MethodSettings settings) => new PipelineQuantizer(this, settings);

    private sealed class PipelineQuantizer(QuantizationMethod method, MethodSettings settings) : IModelQuantizer
    {
        public string Name => method.Name;
        public bool NeedsCalibration => method.NeedsCalibration;

        public QuantizationResult Quantize(IModelSource source, int[][]? calibration,
            Action<long, long, string>? progress = null, CancellationToken cancel = default, IQuantizedBlockSink? sink = null) =>
            BlockPipeline.Run(source, NeedsCalibration ? calibration : null, method.Learner(settings),
                settings.Quantizer, settings.Format, progress, cancel, sink);
    }
}

/// <summary>
/// The one table of quantization methods. Adding a method is one entry here and one learner
/// (<see cref="IBlockLearner"/>): the CLI's `quantize` and `ablate` read names, refusals and defaults from it.
/// The CQE+ defaults come from the ablation in docs/cqe-ablation.md (mask band:1+block:16, depth 1, λ 0.5 — DESIGN.md
/// proposes λ = 1; the sweep preferred 0.5).
/// </summary>
public static class QuantizationMethods
{
    public const string CqeMask = "band:1+block:16";
    public const int CqeDepth = 1;
    public const double LookAheadWeight = CqeOptions.DefaultLookAheadWeight;

    private static readonly string[] LearnedOptionNames = ["--epochs", "--lwc-lr"];
    private static readonly string[] SdeOptionNames = ["--sde", "--sde-lr", "--init-from"];
    private static readonly string[] CllOptionNames = ["--cll", "--cll-weight", "--cll-lookahead"];

    public static readonly IReadOnlyList<QuantizationMethod> All =
    [
        new("rtn", "nothing (round to nearest, range from the weights)", "asymmetric", ["--sym"],
            s => new SequentialLearner(new RtnLayerQuantizer())) { NeedsCalibration = false },
        new("gptq", "per-layer error feedback through the calibration Hessian", "damp 0.01, block 128",
            ["--sym", "--damp", "--act-order", "--static-groups"], s => new SequentialLearner(new GptqLayerQuantizer(s.Gptq))),
        new(LearnedOptions.OmniQuant, "LWC: clipping u, l per group, trained block by block",
            "20 epochs (40 at W2), lr 0.01", LearnedOptionNames, Learned) { IsLearned = true },
        new("lsi", "LWC + learnable singular-value increments (SDE with the diagonal mask)",
            "sde diag, lr 2e-4", [.. LearnedOptionNames, .. SdeOptionNames], Learned)
        {
            IsLearned = true, DiagonalSdeOnly = true, CqeParts = c => c with { Sde = SdeMask.Diagonal, LookAheadDepth = 0 },
            DefaultMask = "diag", Label = "+lsi",
        },
        new("sde", "LWC + SDE (the configured mask), no cross-layer learning", $"sde {CqeMask}",
            [.. LearnedOptionNames, .. SdeOptionNames], Learned)
        {
            IsLearned = true, CqeParts = c => c with { LookAheadDepth = 0 }, DefaultMask = CqeMask, AblationOnly = true, Label = "+sde",
        },
        new("cll", "LWC + cross-layer learning, no SDE", $"depth {CqeDepth}, λ {LookAheadWeight}",
            [.. LearnedOptionNames, .. CllOptionNames], Learned)
        {
            IsLearned = true, CqeParts = c => c with { Sde = null }, DefaultDepth = CqeDepth, AblationOnly = true, Label = "+cll",
        },
        new("cqe+", "LWC + SDE + cross-layer learning", $"sde {CqeMask}, lr 2e-4; cll depth {CqeDepth}, λ {LookAheadWeight}",
            [.. LearnedOptionNames, .. SdeOptionNames, .. CllOptionNames], Learned)
        {
            IsLearned = true, CqeParts = c => c, DefaultMask = CqeMask, DefaultDepth = CqeDepth,
        },
    ];

    /// <summary>The methods `qn quantize` takes, in table order.</summary>
    public static IEnumerable<QuantizationMethod> Quantize => All.Where(m => !m.AblationOnly);

    /// <summary>The method called <paramref name="name"/> (any case), or a refusal listing the names.</summary>
    public static QuantizationMethod Find(string name, bool ablation = false) =>
        All.FirstOrDefault(m => m.Name == name.ToLowerInvariant() && (ablation || !m.AblationOnly))
        ?? throw new QuantNativeException($"--method {name}: unknown method, expected one of {string.Join(", ", Quantize.Select(m => m.Name))}");

    private static IBlockLearner Learned(MethodSettings s) => new BlockwiseLearner(s.Quantizer, s.Format, s.Learned);
}
