using QuantNative.Inference;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Methods;

namespace QuantNative.Cli.Ablation;

/// <summary>What every ablation row shares: the model, the calibration windows, the quantization options that are not
/// swept (symmetric, act-order, static groups, dampening, format).</summary>
public sealed record AblationContext(string ModelPath, int[][] Calibration, bool Symmetric, GptqOptions Gptq,
    GptqCheckpointFormat Format)
{
    /// <summary>The OmniQuant loop's epochs (null: 20, 40 at 2 bits), learning rate and shuffle seed.</summary>
    public LearnedOptions Learned { get; init; } = new();

    /// <summary>The CQE+ settings the +lsi, +sde, +cll and cqe+ rows take their parts from (mask, SDE learning rate,
    /// look-ahead depth, weight and kind).</summary>
    public CqeOptions Cqe { get; init; } = new() { Sde = SdeMask.Parse(QuantizationMethods.CqeMask), LookAheadDepth = QuantizationMethods.CqeDepth };

    /// <summary>The seed of this context's calibration windows and window shuffle (one context per seed).</summary>
    public int Seed { get; init; }
}

/// <summary>A model to evaluate, how long making it took, and what the quantizer reported (null for fp32).</summary>
public sealed record AblationModel(InferenceModel Model, double Seconds, QuantizationResult? Quantized);

/// <summary>
/// A row family of the ablation table: fp32, or an entry of the method table (<see cref="TableMethod"/>); a new
/// quantization method needs nothing here.
/// </summary>
public interface IAblationMethod
{
    string Name { get; }

    /// <summary>Whether the method is swept over bits and groups (fp32 is one row).</summary>
    bool Quantizes { get; }

    /// <param name="config">The bits/group of this row; null when <see cref="Quantizes"/> is false.</param>
    AblationModel Run(AblationContext context, QuantizerConfig? config, Action<long, long, string> progress);
}

public sealed class Fp32Method : IAblationMethod
{
    public string Name => "fp32";
    public bool Quantizes => false;

    public AblationModel Run(AblationContext context, QuantizerConfig? config, Action<long, long, string> progress)
    {
        using var source = Formats.ModelLoader.Open(context.ModelPath);
        return new AblationModel(InferenceModel.From(LlamaModel.Load(source)), 0, null);
    }
}

/// <summary>
/// A row family of the method table (<see cref="QuantizationMethods"/>): the per-layer methods (rtn, gptq) and the
/// block-wise learned ones with their CQE+ parts (omniquant, +lsi, +sde, +cll, cqe+, each taking its parts from the
/// context's <see cref="AblationContext.Cqe"/>); no resume state: an ablation row is rerun as a whole.
/// </summary>
public sealed class TableMethod(QuantizationMethod method) : IAblationMethod
{
    public string Name => method.Label;
    public QuantizationMethod Method => method;
    public bool Quantizes => true;

    public AblationModel Run(AblationContext context, QuantizerConfig? config, Action<long, long, string> progress)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var source = Formats.ModelLoader.Open(context.ModelPath);
        var learned = new LearnedOptions
        {
            Epochs = context.Learned.Epochs, LearningRate = context.Learned.LearningRate, Seed = context.Seed,
            Cqe = method.CqeParts?.Invoke(context.Cqe),
        };
        var quantizer = new QuantizerConfig(config.Bits, config.GroupSize, context.Symmetric);
        var q = method.Create(new MethodSettings(quantizer, context.Format, context.Gptq, learned))
            .Quantize(source, context.Calibration, progress);
        return new AblationModel(InferenceModel.From(q.Model), q.Seconds, q);
    }
}

public static class AblationMethods
{
    public static readonly IReadOnlyList<string> Names = ["fp32", .. QuantizationMethods.All.Select(m => m.Name)];

    public static IAblationMethod Create(string name) =>
        name.Equals("fp32", StringComparison.OrdinalIgnoreCase)
            ? new Fp32Method()
            : QuantizationMethods.All.FirstOrDefault(m => m.Name == name.ToLowerInvariant()) is { } method
                ? new TableMethod(method)
                : throw new QuantNativeException($"--methods: unknown method '{name}', expected some of {string.Join(", ", Names)}");

    /// <summary>Whether a method is one of the learned ones (asymmetric LWC: refuses --sym).</summary>
    public static bool IsLearned(IAblationMethod method) => method is TableMethod { Method.IsLearned: true };
}
