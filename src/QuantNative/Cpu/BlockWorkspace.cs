using QuantNative.Model;

namespace QuantNative.Cpu;

/// <summary>Scratch buffers for one block forward over up to <see cref="Capacity"/> tokens, reused across blocks.</summary>
public sealed class BlockWorkspace
{
    public int Capacity { get; }
    public float[] Normed { get; }     // [T, hidden]
    public float[] Q { get; }          // [T, heads·headDim]
    public float[] K { get; }          // [T, kvDim]
    public float[] V { get; }          // [T, kvDim]
    public float[] Attention { get; }  // [T, heads·headDim]
    public float[] Gate { get; }       // [T, intermediate]
    public float[] Up { get; }         // [T, intermediate]

    public BlockWorkspace(LlamaConfig c, int capacity)
    {
        Capacity = capacity;
        Normed = new float[(long)capacity * c.HiddenSize];
        Q = new float[(long)capacity * c.QDim];
        K = new float[(long)capacity * c.KvDim];
        V = new float[(long)capacity * c.KvDim];
        Attention = new float[(long)capacity * c.QDim];
        Gate = new float[(long)capacity * c.IntermediateSize];
        Up = new float[(long)capacity * c.IntermediateSize];
    }
}
