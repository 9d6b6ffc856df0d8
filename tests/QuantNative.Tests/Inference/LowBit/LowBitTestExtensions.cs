using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Model.Quantized;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>What only the tests ask of the low-bit layout: its unpacked matrix, a linear straight from a GPTQ layer,
/// and the linear's shape.</summary>
public static class LowBitTestExtensions
{
    extension(LowBitWeights w)
    {
        /// <summary>The unpacked matrix (codes, scales, zeros, g_idx; input-column order) this layout holds.</summary>
        public QuantizedMatrix ToQuantizedMatrix(string tensor = "weight")
        {
            var config = new QuantizerConfig(w.Bits, w.GroupSize, w.Symmetric);
            int groups = w.Groups;
            var codes = new byte[(long)w.N * w.K];
            var scales = new float[w.N * groups];
            var zeros = new int[w.N * groups];
            for (int n = 0; n < w.N; n++)
            {
                for (int k = 0; k < w.K; k++) codes[(long)n * w.K + w.InputColumn(k)] = (byte)w.Code(n, k);
                for (int g = 0; g < groups; g++)
                {
                    scales[n * groups + g] = w.Scale(n, g);
                    zeros[n * groups + g] = w.Zero(n, g);
                }
            }
            var gIdx = new int[w.K];
            for (int k = 0; k < w.K; k++) gIdx[w.InputColumn(k)] = k / w.GroupLength;
            return new QuantizedMatrix(w.N, w.K, config, codes, scales, zeros, gIdx, tensor);
        }
    }

    extension(LowBitLinear linear)
    {
        public static LowBitLinear FromGptq(PackedGptqLinear packed, string tensor = "weight") =>
            new(LowBitRepack.FromGptq(packed, tensor));

        public int InFeatures => linear.Weights.K;
        public int OutFeatures => linear.Weights.N;
    }
}
