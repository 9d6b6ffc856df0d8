using QuantNative.Backends;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// Σx² per input column of each linear of a committed block over the calibration windows X_q — the diagonal of XᵀX
/// that GPTQ's Hessian holds, here taken from one forward of the committed block (the inputs the block's linears
/// see in the quantized model, as GPTQ's are). A GGUF K-quant export weights each column's error by it.
/// </summary>
internal static class InputEnergy
{
    public static Dictionary<string, float[]> Of(TrainingActivations acts, BlockBuffers<float> committed, LlamaConfig c)
    {
        var sums = BlockLinears.ByInput().ToDictionary(g => g.Key, g => new double[g.First().Shape(c).Columns]);
        var host = new float[(long)acts.Length * Math.Max(Math.Max(c.HiddenSize, c.QDim), c.IntermediateSize)];
        for (int k = 0; k < acts.Windows; k++)
        {
            TrainingBlock.Forward(acts.Y, acts.Saved, acts.Xq[k], committed, c, acts.Length);
            foreach (var (stage, sum) in sums)
            {
                var input = Input(acts.Saved, stage);
                var x = host.AsSpan(0, (int)input.Length);
                input.Download(x);
                int columns = sum.Length;
                for (int t = 0; t < acts.Length; t++)
                for (int j = 0; j < columns; j++)
                {
                    float v = x[t * columns + j];
                    sum[j] += (double)v * v;
                }
            }
        }
        return BlockLinears.All.ToDictionary(l => l.Part, l => sums[l.Input].Select(v => (float)v).ToArray());
    }

    /// <summary>The saved tensor that holds the input of the linears at <paramref name="stage"/>.</summary>
    private static BackendBuffer<float> Input(BlockActivations<float> saved, BlockStage stage) => stage switch
    {
        BlockStage.AttentionNorm => saved.Normed1,
        BlockStage.Attention => saved.Attention,
        BlockStage.MlpNorm => saved.Normed2,
        BlockStage.MlpActivation => saved.Mlp,
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, "no linear layer reads the block output"),
    };
}
