namespace QuantNative.Model.Quantized;

/// <summary>The input checks every quantizer makes on a weight matrix, with errors that name the tensor.</summary>
internal static class WeightChecks
{
    public static void Require(ReadOnlySpan<float> weights, int rows, int columns, string tensor)
    {
        if (rows <= 0 || columns <= 0)
            throw new QuantNativeException($"{tensor}: shape [{rows}, {columns}]: expected positive dimensions");
        if (weights.Length != (long)rows * columns)
            throw new QuantNativeException(
                $"{tensor}: {weights.Length} values for shape [{rows}, {columns}]: expected {(long)rows * columns}");
        for (int i = 0; i < weights.Length; i++)
            if (!float.IsFinite(weights[i]))
                throw new QuantNativeException(
                    $"{tensor}: value {weights[i]} at [{i / columns}, {i % columns}]: expected finite weights");
    }
}
