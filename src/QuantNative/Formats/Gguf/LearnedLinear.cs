namespace QuantNative.Formats.Gguf;

/// <summary>A learned method's linear before its commit: W' (W for OmniQuant) and each group's learned clipping range
/// [γ·max, β·min] ([rows·groups], the quantizer's groups). K-quant exports start each sub-block's search from its
/// group's range, and fit W' rather than the W3/W2 grid it was committed to.</summary>
public sealed record LearnedLinear(float[] Weights, float[] RangeMin, float[] RangeMax);
