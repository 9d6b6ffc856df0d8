using QuantNative.Formats.Gptq;
using QuantNative.Formats;
using QuantNative.Model.Quantized;
using QuantNative.Model;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Sequential;
using QuantNative.Quantization;

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
    public CqeOptions Cqe { get; init; } = new() { Sde = SdeMask.Parse(CqeDefaults.Mask), LookAheadDepth = CqeDefaults.Depth };

    /// <summary>The seed of this context's calibration windows and window shuffle (one context per seed).</summary>
    public int Seed { get; init; }
}

/// <summary>A model to evaluate, how long making it took, and what the quantizer reported (null for fp32).</summary>
public sealed record AblationModel(LlamaModel Model, double Seconds, QuantizationResult? Quantized);

/// <summary>
/// A row family of the ablation table (fp32, rtn, gptq; later OmniQuant and the learned methods): adding one is a class
/// and a line in <see cref="AblationMethods.Create"/>.
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
        return new AblationModel(LlamaModel.Load(source), 0, null);
    }
}

/// <summary>A per-layer method run by the sequential pipeline (rtn, gptq).</summary>
public sealed class SequentialMethod(string name) : IAblationMethod
{
    public string Name => name;
    public bool Quantizes => true;

    public AblationModel Run(AblationContext context, QuantizerConfig? config, Action<long, long, string> progress)
    {
        ArgumentNullException.ThrowIfNull(config);
        var layer = LayerQuantizers.Create(name, context.Gptq);
        using var source = Formats.ModelLoader.Open(context.ModelPath);
        var q = SequentialQuantizer.Run(source, layer.NeedsCalibration ? context.Calibration : null, layer,
            new QuantizerConfig(config.Bits, config.GroupSize, context.Symmetric), context.Format, progress);
        return new AblationModel(q.Model.ToLlamaModel(), q.Seconds, q);
    }
}

/// <summary>
/// OmniQuant's block-wise LWC training and what CQE+ adds to it (no resume state: an ablation row is rerun as a
/// whole): omniquant (LWC alone), +lsi (the diagonal SDE mask), +sde (the configured mask), +cll (cross-layer
/// learning alone), cqe+ (SDE and CLL). Each takes its parts from the context's <see cref="AblationContext.Cqe"/>.
/// </summary>
public sealed class LearnedMethod(string name, string label, Func<CqeOptions, CqeOptions?> parts) : IAblationMethod
{
    public string Name => label;
    public string Key => name;
    public bool Quantizes => true;

    public AblationModel Run(AblationContext context, QuantizerConfig? config, Action<long, long, string> progress)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var source = Formats.ModelLoader.Open(context.ModelPath);
        var options = new LearnedOptions
        {
            Epochs = context.Learned.Epochs, LearningRate = context.Learned.LearningRate, Seed = context.Seed,
            Cqe = parts(context.Cqe),
        };
        var q = LearnedQuantizer.Run(source, context.Calibration, new QuantizerConfig(config.Bits, config.GroupSize),
            context.Format, options, progress);
        return new AblationModel(q.Model.ToLlamaModel(), q.Seconds, q);
    }
}

public static class AblationMethods
{
    public static readonly IReadOnlyList<string> Names =
        ["fp32", .. LayerQuantizers.Names, LearnedOptions.OmniQuant, "lsi", "sde", "cll", CqeDefaults.CqePlus];

    public static IAblationMethod Create(string name) => name.ToLowerInvariant() switch
    {
        "fp32" => new Fp32Method(),
        "rtn" or "gptq" => new SequentialMethod(name.ToLowerInvariant()),
        LearnedOptions.OmniQuant => new LearnedMethod(LearnedOptions.OmniQuant, LearnedOptions.OmniQuant, _ => null),
        "lsi" => new LearnedMethod("lsi", "+lsi", c => c with { Sde = SdeMask.Diagonal, LookAheadDepth = 0 }),
        "sde" => new LearnedMethod("sde", "+sde", c => c with { LookAheadDepth = 0 }),
        "cll" => new LearnedMethod("cll", "+cll", c => c with { Sde = null }),
        CqeDefaults.CqePlus => new LearnedMethod(CqeDefaults.CqePlus, CqeDefaults.CqePlus, c => c),
        _ => throw new QuantNativeException($"--methods: unknown method '{name}', expected some of {string.Join(", ", Names)}"),
    };

    /// <summary>Whether a method is one of the learned ones (asymmetric LWC: refuses --sym).</summary>
    public static bool IsLearned(IAblationMethod method) => method is LearnedMethod;
}
