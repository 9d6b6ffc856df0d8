using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;

namespace QuantNative.Quantization.Sequential;

/// <summary>
/// A per-layer weight quantizer the sequential pipeline can run: given W [rows, columns] and, when it asks for them,
/// the Hessian of the layer's calibration inputs (through the already-quantized part of the model).
/// </summary>
public interface ILayerQuantizer
{
    /// <summary>"rtn", "gptq", ... as the command line spells it.</summary>
    string Name { get; }

    /// <summary>Whether the layer's calibration inputs are needed (RTN: no calibration at all).</summary>
    bool NeedsCalibration { get; }

    LayerQuantization Quantize(float[] weights, int rows, int columns, HessianAccumulator? hessian, QuantizerConfig config,
        string tensor);
}

/// <summary>The quantized matrix and GPTQ's dead-input count (0 for methods without a Hessian).</summary>
public sealed record LayerQuantization(QuantizedMatrix Matrix, int DeadColumns);

public sealed class RtnLayerQuantizer : ILayerQuantizer
{
    public string Name => "rtn";
    public bool NeedsCalibration => false;

    public LayerQuantization Quantize(float[] weights, int rows, int columns, HessianAccumulator? hessian,
        QuantizerConfig config, string tensor) =>
        new(Rtn.Quantize(weights, rows, columns, config, tensor), 0);
}

public sealed class GptqLayerQuantizer(GptqOptions options) : ILayerQuantizer
{
    public GptqOptions Options { get; } = options;
    public string Name => "gptq";
    public bool NeedsCalibration => true;

    public LayerQuantization Quantize(float[] weights, int rows, int columns, HessianAccumulator? hessian,
        QuantizerConfig config, string tensor)
    {
        if (hessian == null)
            throw new QuantNativeException($"{tensor}: GPTQ needs the layer's calibration inputs, and none were given");
        var result = GptqQuantizer.Quantize(weights, rows, columns, hessian, config, Options, tensor);
        return new LayerQuantization(result.Matrix, result.DeadColumns);
    }
}
