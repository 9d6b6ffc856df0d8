using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>The four tensors of one packed linear layer, their names (prefix + suffix) and shapes.</summary>
public static class GptqTensorNames
{
    public const string QWeight = "qweight", QZeros = "qzeros", Scales = "scales", GIdx = "g_idx";

    /// <summary>(suffix, safetensors dtype, shape) of each tensor of a layer [rows = out, columns = in].</summary>
    public static (string Suffix, string DType, long[] Shape)[] Tensors(int rows, int columns, QuantizerConfig q)
    {
        int groups = q.Layout(columns).Groups;
        return
        [
            (QWeight, "I32", [BitStream32.Words(columns, q.Bits), rows]),
            (QZeros, "I32", [groups, BitStream32.Words(rows, q.Bits)]),
            (Scales, "F16", [groups, rows]),
            (GIdx, "I32", [columns]),
        ];
    }

    /// <summary>Whether a block part is a norm, stored in its source dtype rather than quantized.</summary>
    public static bool IsNorm(string part) => part is "input_layernorm" or "post_attention_layernorm";

    /// <summary>A block's tensors in write order (Transformers' state-dict order): norms and linear layers.</summary>
    internal static IEnumerable<string> BlockOrder() =>
        ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
         "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    internal static long[] NormShape(LlamaConfig c) => [c.HiddenSize];
}
