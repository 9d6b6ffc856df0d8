namespace QuantNative.Cpu.Weights;

/// <summary>fp32 weights in an array, multiplied by one BLAS GEMM: the reference path and small models' path
/// (llama2.c checkpoints, models built in memory, the calibration forward of the quantizers).</summary>
public sealed class ArrayLinear(string name, float[] weight, int outFeatures, int inFeatures) : ILinearWeights
{
    public string Name => name;
    public int OutFeatures => outFeatures;
    public int InFeatures => inFeatures;
    public long StoredBytes => (long)weight.Length * sizeof(float);
    public float[] Weight => weight;

    public void Forward(ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate) =>
        Gemm.MatMulTransB(x, weight, y, tokens, outFeatures, inFeatures, accumulate);
}
