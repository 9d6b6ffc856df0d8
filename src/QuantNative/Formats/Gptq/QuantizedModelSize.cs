namespace QuantNative.Formats.Gptq;

/// <summary>Storage of the quantized layers as the GPTQ checkpoint holds them, for the summary's bits/weight.</summary>
public static class QuantizedModelSize
{
    /// <summary>(quantized weights, bytes of their qweight + qzeros + scales + g_idx).</summary>
    public static (long Weights, long Bytes) Of(QuantizedModel model)
    {
        long weights = 0, bytes = 0;
        foreach (var block in model.Blocks)
        foreach (var m in block.Linears.Values)
        {
            weights += (long)m.Rows * m.Columns;
            foreach (var (_, dtype, shape) in GptqTensorNames.Tensors(m.Rows, m.Columns, m.Config))
                bytes += shape.Aggregate(1L, (a, b) => a * b) * (dtype == "F16" ? 2 : 4);
        }
        return (weights, bytes);
    }
}
