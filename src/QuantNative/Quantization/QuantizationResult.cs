using QuantNative.Formats;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Learned.Lwc;

namespace QuantNative.Quantization;

/// <summary>What a quantization run made (<see cref="Model"/>, the checkpoint's content) and how: the per-layer
/// errors, the learned methods' per-block losses and clipping parameters, the time.</summary>
public sealed class QuantizationResult
{
    public required QuantizedModel Model { get; init; }
    public required IReadOnlyList<LayerReport> Layers { get; init; }

    /// <summary>GPTQ's options when the method was gptq (the summary states them).</summary>
    public GptqOptions? Gptq { get; init; }

    /// <summary>The block-wise training's per-block losses and memory (omniquant, lsi, cqe+); null for rtn and gptq.</summary>
    public LearnedReport? Learned { get; init; }

    /// <summary>The learned clipping parameters of a learned method (omniquant, lsi, cqe+), written beside the weights
    /// for `--init-from`; null for rtn and gptq.</summary>
    public ClippingParameters? Clipping { get; init; }
    public required double Seconds { get; init; }
}
