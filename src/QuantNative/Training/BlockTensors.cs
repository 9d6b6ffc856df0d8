using System.Numerics;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// The nine tensors of one LLaMA block in either precision, row-major [out, in] like <see cref="LlamaBlockWeights"/>:
/// the weights a training pass runs with (later the fake-quantized ones), or the gradients it produces, which have
/// the same shapes.
/// </summary>
public sealed class BlockTensors<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public required T[] AttnNorm { get; init; }   // [hidden]
    public required T[] Wq { get; init; }         // [heads·headDim, hidden]
    public required T[] Wk { get; init; }         // [kvHeads·headDim, hidden]
    public required T[] Wv { get; init; }         // [kvHeads·headDim, hidden]
    public required T[] Wo { get; init; }         // [hidden, heads·headDim]
    public required T[] FfnNorm { get; init; }    // [hidden]
    public required T[] WGate { get; init; }      // w1 [intermediate, hidden]
    public required T[] WUp { get; init; }        // w3 [intermediate, hidden]
    public required T[] WDown { get; init; }      // w2 [hidden, intermediate]

    /// <summary>Biases and q/k norms (weights only: gradients have none, nothing learns them).</summary>
    public BlockExtras<T[]> Extras { get; init; } = BlockExtras<T[]>.Empty;

    /// <summary>The seven linear layers with their names (the order of the checkpoint).</summary>
    public IEnumerable<(string Name, T[] Tensor)> Linears() =>
    [
        ("q_proj", Wq), ("k_proj", Wk), ("v_proj", Wv), ("o_proj", Wo),
        ("gate_proj", WGate), ("up_proj", WUp), ("down_proj", WDown),
    ];

    /// <summary>Every tensor with its name: the linear layers and both norms.</summary>
    /// <summary>The linear tensor of a <see cref="BlockLinears"/> part ("self_attn.q_proj", …).</summary>
    public T[] Linear(string part) => part switch
    {
        BlockLinears.Q => Wq, BlockLinears.K => Wk, BlockLinears.V => Wv, BlockLinears.O => Wo,
        BlockLinears.Gate => WGate, BlockLinears.Up => WUp, BlockLinears.Down => WDown,
        _ => throw new ArgumentException($"no block linear named {part}", nameof(part)),
    };

    public IEnumerable<(string Name, T[] Tensor)> All() =>
        Linears().Prepend(("input_layernorm", AttnNorm)).Append(("post_attention_layernorm", FfnNorm));

    /// <summary>Zero tensors of the block's shapes (for gradients).</summary>
    public static BlockTensors<T> Zeros(LlamaConfig c)
    {
        long d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, q = c.QDim;
        return new BlockTensors<T>
        {
            AttnNorm = new T[d], Wq = new T[q * d], Wk = new T[kv * d], Wv = new T[kv * d], Wo = new T[d * q],
            FfnNorm = new T[d], WGate = new T[f * d], WUp = new T[f * d], WDown = new T[d * f],
        };
    }

    /// <summary>A copy of <paramref name="w"/>'s fp32 weights converted to T (for float: copies, not shared arrays).</summary>
    public static BlockTensors<T> From(LlamaBlockWeights w)
    {
        static T[] C(float[] a) => Array.ConvertAll(a, T.CreateTruncating);
        return new BlockTensors<T>
        {
            AttnNorm = C(w.AttnNorm), Wq = C(w.Wq), Wk = C(w.Wk), Wv = C(w.Wv), Wo = C(w.Wo),
            FfnNorm = C(w.FfnNorm), WGate = C(w.WGate), WUp = C(w.WUp), WDown = C(w.WDown),
            Extras = w.Extras.Map(C),
        };
    }
}
