using QuantNative.Quantization;
using QuantNative.Quantization.OmniQuant;

namespace QuantNative.Cli;

/// <summary>The quantization options of `qn quantize` (and `qn ablate`), checked, with errors naming the option.
/// <see cref="Method"/> is the per-layer method of the sequential pipeline (rtn, gptq), null for omniquant, which
/// trains whole blocks and runs its own loop.</summary>
public sealed record QuantizeSettings(string MethodName, ILayerQuantizer? Method, QuantizerConfig Quantizer,
    GptqCheckpointFormat Format)
{
    public static readonly IReadOnlyList<string> MethodNames = [.. LayerQuantizers.Names, OmniQuantizer.MethodName];

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
        if (name != OmniQuantizer.MethodName)
        {
            if (!LayerQuantizers.Names.Contains(name))
                throw new QuantNativeException($"--method {method}: unknown method, expected one of {string.Join(", ", MethodNames)}");
            layer = LayerQuantizers.Create(name, gptq);
        }
        else if (sym)
            throw new QuantNativeException("--sym: omniquant's learnable weight clipping is asymmetric; leave --sym out");
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
    public static OmniQuantOptions OmniQuant(int? epochs, double learningRate, int seed, string? workDirectory = null,
        int? stopAfterBlock = null)
    {
        var options = new OmniQuantOptions
        {
            Epochs = epochs, LearningRate = learningRate, Seed = seed, WorkDirectory = workDirectory,
            StopAfterBlock = stopAfterBlock,
        };
        options.Validate();
        return options;
    }
}
