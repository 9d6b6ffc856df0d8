using QuantNative.Quantization;

namespace QuantNative.Cli;

/// <summary>The quantization options of `qn quantize` (and `qn ablate`), checked, with errors naming the option.</summary>
public sealed record QuantizeSettings(ILayerQuantizer Method, QuantizerConfig Quantizer, GptqCheckpointFormat Format)
{
    public static QuantizeSettings Parse(string method, int bits, int group, bool sym, bool actOrder, bool staticGroups,
        double damp, string format)
    {
        var gptq = new GptqOptions { DampPercent = damp, ActOrder = actOrder, StaticGroups = staticGroups };
        if (!double.IsFinite(damp) || damp < 0)
            throw new QuantNativeException($"--damp {damp}: expected a finite fraction ≥ 0 (default 0.01)");
        var layer = LayerQuantizers.Create(method, gptq);
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
        return new QuantizeSettings(layer, new QuantizerConfig(bits, group, sym), checkpointFormat);
    }
}
