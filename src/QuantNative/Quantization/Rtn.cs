using QuantNative.Model.Quantized;

namespace QuantNative.Quantization;

/// <summary>
/// Round-to-nearest: every group quantized on its own with the range that holds zero (DESIGN.md §7.1). The baseline
/// every other method is measured against, and GPTQ's result when the Hessian is diagonal.
/// </summary>
public static class Rtn
{
    /// <summary>Quantizes W [rows, columns] (row-major, y = x·Wᵀ); <paramref name="tensor"/> names it in errors.</summary>
    public static QuantizedMatrix Quantize(ReadOnlySpan<float> weights, int rows, int columns, QuantizerConfig config,
        string tensor = "weight")
    {
        WeightChecks.Require(weights, rows, columns, tensor);
        var layout = config.Layout(columns);
        var codes = new byte[rows * columns];
        var scales = new float[rows * layout.Groups];
        var zeros = new int[rows * layout.Groups];
        int qmax = config.MaxCode;
        for (int r = 0; r < rows; r++)
        {
            for (int g = 0; g < layout.Groups; g++)
            {
                int start = r * columns + layout.StartOf(g), length = layout.LengthOf(g);
                var (s, z) = UniformQuantizer.ParamsForWeights(weights.Slice(start, length), config);
                scales[r * layout.Groups + g] = s;
                zeros[r * layout.Groups + g] = z;
                for (int i = start; i < start + length; i++)
                    codes[i] = (byte)UniformQuantizer.Quantize(weights[i], s, z, qmax);
            }
        }
        return new QuantizedMatrix(rows, columns, config, codes, scales, zeros,
            QuantizedMatrix.NaturalGroupIndex(layout), tensor);
    }
}
