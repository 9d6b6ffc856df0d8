namespace QuantNative.Model.Quantized;

/// <summary>
/// The uniform quantizer of DESIGN.md §7.1, one group at a time, in float32 with half-to-even rounding everywhere
/// (the same results as CUDA's rintf). Two additions to §7.1, both forced by storage:
/// <list type="bullet">
/// <item>the scale is rounded to fp16 right after its clamp, because the checkpoint stores fp16 scales and runtimes
/// multiply by those: codes and zero are computed against the scale that will actually be used;</item>
/// <item>the zero is clamped to [0, qmax] so it fits in `bits` bits. For a range that holds zero this is a no-op unless
/// the fp16 rounding shrank a subnormal scale or the scale hit the 1e4 clamp.</item>
/// </list>
/// </summary>
public static class UniformQuantizer
{
    public const float MinScale = 1e-5f;
    public const float MaxScale = 1e4f;

    /// <summary>
    /// (scale, zero) for the range [xmin, xmax]. Asymmetric: s = (xmax − xmin)/qmax, z = round(−xmin/s).
    /// Symmetric (GPTQ's convention): s = 2·max(|xmin|, |xmax|)/qmax, z = (qmax + 1)/2.
    /// </summary>
    public static (float Scale, int Zero) Params(float xmin, float xmax, QuantizerConfig config)
    {
        int qmax = config.MaxCode;
        if (config.Symmetric)
        {
            float amax = MathF.Max(MathF.Abs(xmin), MathF.Abs(xmax));
            return (StoredScale(2f * amax / qmax), (qmax + 1) / 2);
        }
        float s = StoredScale((xmax - xmin) / qmax);
        float z = MathF.Round(-xmin / s, MidpointRounding.ToEven);
        return (s, (int)Math.Clamp(z, 0f, qmax));
    }

    /// <summary>
    /// Parameters for a group of weights as RTN and GPTQ take them: the range always holds zero
    /// (xmin = min(w, 0), xmax = max(w, 0)), so zero is exactly representable and z ∈ [0, qmax].
    /// </summary>
    public static (float Scale, int Zero) ParamsForWeights(ReadOnlySpan<float> group, QuantizerConfig config)
    {
        float xmin = 0f, xmax = 0f;
        foreach (float w in group)
        {
            xmin = MathF.Min(xmin, w);
            xmax = MathF.Max(xmax, w);
        }
        return Params(xmin, xmax, config);
    }

    /// <summary>q = clamp(round(w/s) + z, 0, qmax). Clamped in float so a huge w/s cannot overflow the cast.</summary>
    public static int Quantize(float w, float scale, int zero, int maxCode)
    {
        float q = MathF.Round(w / scale, MidpointRounding.ToEven) + zero;
        return (int)Math.Clamp(q, 0f, maxCode);
    }

    /// <summary>ŵ = (q − z)·s.</summary>
    public static float Dequantize(int code, float scale, int zero) => (code - zero) * scale;

    /// <summary>The free minimum's code: q = clamp(round((w − m)/s), 0, qmax) (LwcFakeQuant's operations).</summary>
    public static int QuantizeFreeMinimum(float w, float scale, float minimum, int maxCode) =>
        (int)Math.Clamp(MathF.Round((w - minimum) / scale, MidpointRounding.ToEven), 0f, maxCode);

    /// <summary>The free minimum's ŵ = q·s + m (GGUF's x = d·q + m, in float32 as ggml dequantizes).</summary>
    public static float DequantizeFreeMinimum(int code, float scale, float minimum) => code * scale + minimum;

    /// <summary>The §7.1 clamp to [1e-5, 1e4], then the fp16 rounding the checkpoint applies anyway.</summary>
    public static float StoredScale(float s) => (float)(Half)Math.Clamp(s, MinScale, MaxScale);
}
