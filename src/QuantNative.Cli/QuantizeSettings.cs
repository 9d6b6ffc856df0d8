using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Sequential;
using QuantNative.Quantization;

namespace QuantNative.Cli;

/// <summary>The quantization options of `qn quantize` (and `qn ablate`), checked, with errors naming the option.
/// <see cref="Method"/> is the per-layer method of the sequential pipeline (rtn, gptq), null for the block-wise learned
/// methods (omniquant, lsi, cqe+), which run the OmniQuant loop.</summary>
public sealed record QuantizeSettings(string MethodName, ILayerQuantizer? Method, QuantizerConfig Quantizer,
    GptqCheckpointFormat Format)
{
    public static readonly IReadOnlyList<string> LearnedMethods = [LearnedOptions.OmniQuant, CqeDefaults.Lsi, CqeDefaults.CqePlus];
    public static readonly IReadOnlyList<string> MethodNames = [.. LayerQuantizers.Names, .. LearnedMethods];

    public bool IsOmniQuant => Method == null;

    public bool NeedsCalibration => Method?.NeedsCalibration ?? true;

    public static QuantizeSettings Parse(string method, int bits, int group, bool sym, bool actOrder, bool staticGroups,
        double damp, string format)
    {
        var gptq = new GptqOptions { DampPercent = damp, ActOrder = actOrder, StaticGroups = staticGroups };
        if (!double.IsFinite(damp) || damp < 0)
            throw new QuantNativeException($"--damp {damp}: expected a finite fraction ≥ 0 (default 0.01)");
        string name = method.ToLowerInvariant();
        ILayerQuantizer? layer = null;
        if (!LearnedMethods.Contains(name))
        {
            if (!LayerQuantizers.Names.Contains(name))
                throw new QuantNativeException($"--method {method}: unknown method, expected one of {string.Join(", ", MethodNames)}");
            layer = LayerQuantizers.Create(name, gptq);
        }
        else if (sym)
            throw new QuantNativeException($"--sym: {name}'s learnable weight clipping is asymmetric; leave --sym out");
        if (!QuantizerConfig.SupportedBits.Contains(bits))
            throw new QuantNativeException(
                $"--wbits {bits}: expected one of {string.Join(", ", QuantizerConfig.SupportedBits)}");
        if (group <= 0 && group != QuantizerConfig.PerChannelGroupSize)
            throw new QuantNativeException($"--group {group}: expected a positive group size, or -1 for per-channel");
        var checkpointFormat = format.ToLowerInvariant() switch
        {
            "v1" or "gptq" or "1" => GptqCheckpointFormat.V1,
            "v2" or "gptq_v2" or "2" => GptqCheckpointFormat.V2,
            _ => throw new QuantNativeException($"--format {format}: expected v1 (gptq) or v2 (gptq_v2)"),
        };
        return new QuantizeSettings(name, layer, new QuantizerConfig(bits, group, sym), checkpointFormat);
    }

    /// <summary>The OmniQuant loop's options from the command line; errors name --epochs and --lwc-lr.</summary>
    public static LearnedOptions Learned(int? epochs, double learningRate, int seed, string? workDirectory = null,
        int? stopAfterBlock = null, CqeOptions? cqe = null, Backends.IBackend? backend = null)
    {
        var options = new LearnedOptions
        {
            Epochs = epochs, LearningRate = learningRate, Seed = seed, WorkDirectory = workDirectory,
            StopAfterBlock = stopAfterBlock, Cqe = cqe, Backend = backend,
        };
        options.Validate();
        return options;
    }


    /// <summary>
    /// The CQE+ options of a learned method from the command line: lsi = `--sde diag` without cross-layer learning,
    /// cqe+ = SDE (default mask <see cref="CqeDefaults.Mask"/>) + CLL (default depth 1); omniquant takes none of them.
    /// Every refusal names the option, before any work.
    /// </summary>
    public static CqeOptions? Cqe(string method, string? sde, double sdeLr, int? cll, double cllWeight, string lookAhead,
        string? initFrom)
    {
        string name = method.ToLowerInvariant();
        if (name == LearnedOptions.OmniQuant || !LearnedMethods.Contains(name))
        {
            string? given = sde != null ? "--sde" : cll != null ? "--cll" : initFrom != null ? "--init-from" : null;
            if (given != null)
                throw new QuantNativeException($"{given}: only --method cqe+ (or lsi) takes it; --method {method} has no SDE, " +
                                               "cross-layer learning or initial clipping parameters");
            return null;
        }
        var options = new CqeOptions
        {
            Sde = SdeMask.Parse(sde ?? (name == CqeDefaults.Lsi ? "diag" : CqeDefaults.Mask)),
            SdeLearningRate = sdeLr,
            LookAheadDepth = cll ?? (name == CqeDefaults.Lsi ? 0 : CqeDefaults.Depth),
            LookAheadWeight = cllWeight,
            LookAhead = CqeOptions.ParseLookAhead(lookAhead),
            InitFrom = initFrom,
        };
        if (name == CqeDefaults.Lsi && (!options.Sde.IsDiagonal || options.LookAheadDepth != 0))
            throw new QuantNativeException($"--method lsi is SDE with the diagonal mask and no cross-layer learning; " +
                                           $"for --sde {sde} or --cll {cll} use --method cqe+");
        options.Validate();
        return options;
    }
}
