using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>Storage of the quantized layers as the GPTQ checkpoint holds them, for the summary's bits/weight; it
/// follows from the config and the quantizer, so it is known before (and without holding) the quantized blocks.</summary>
public static class QuantizedModelSize
{
    /// <summary>(quantized weights, bytes of their qweight + qzeros + scales + g_idx, groups (zero points)).</summary>
    public static (long Weights, long Bytes, long Groups) Of(LlamaConfig c, QuantizerConfig q)
    {
        long weights = 0, bytes = 0, groups = 0;
        foreach (var linear in BlockLinears.All)
        {
            var (rows, columns) = linear.Shape(c);
            weights += (long)rows * columns;
            groups += (long)rows * q.Layout(columns).Groups;
            foreach (var (_, dtype, shape) in GptqTensorNames.Tensors(rows, columns, q))
                bytes += shape.Aggregate(1L, (a, b) => a * b) * (dtype == "F16" ? 2 : 4);
        }
        return (weights * c.NumLayers, bytes * c.NumLayers, groups * c.NumLayers);
    }
}
