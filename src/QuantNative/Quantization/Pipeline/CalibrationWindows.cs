using QuantNative.Model;

namespace QuantNative.Quantization.Pipeline;

/// <summary>The calibration windows every method starts from: checked once, and embedded into X (one array
/// [L, hidden] per window), the input of block 0.</summary>
public static class CalibrationWindows
{
    /// <summary>The windows, or a refusal naming the method when there are none or they do not fit the model.</summary>
    public static int[][] Require(int[][]? calibration, LlamaConfig c, string method)
    {
        if (calibration is not { Length: > 0 })
            throw new QuantNativeException($"method {method} needs calibration windows (--calib), and none were given");
        int length = calibration[0].Length;
        if (length < 1 || length > c.MaxPositionEmbeddings)
            throw new QuantNativeException(
                $"calibration windows of {length} tokens: expected 1..{c.MaxPositionEmbeddings}, the model's context");
        foreach (var window in calibration)
        {
            if (window.Length != length)
                throw new QuantNativeException($"calibration windows of {window.Length} and {length} tokens: expected one length");
            foreach (int id in window)
                if ((uint)id >= (uint)c.VocabSize)
                    throw new QuantNativeException($"calibration token id {id} is outside the vocabulary of {c.VocabSize}");
        }
        return calibration;
    }

    /// <summary>X of every window: the token embeddings, [L, hidden] each.</summary>
    public static float[][] Embed(float[] embedding, int[][] windows, int hidden) =>
        windows.Select(window =>
        {
            var x = new float[(long)window.Length * hidden];
            for (int t = 0; t < window.Length; t++)
                embedding.AsSpan(window[t] * hidden, hidden).CopyTo(x.AsSpan(t * hidden, hidden));
            return x;
        }).ToArray();
}
