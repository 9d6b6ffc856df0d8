using QuantNative.Model;

namespace QuantNative.Inference;

/// <summary>Keys (already rotated) and values of every block for positions 0..Capacity−1.</summary>
public sealed class KvCache
{
    public int Capacity { get; }
    public float[][] Keys { get; }    // per block [Capacity, kvDim]
    public float[][] Values { get; }  // per block [Capacity, kvDim]

    public KvCache(LlamaConfig c, int capacity, int blocks)
    {
        Capacity = capacity;
        Keys = new float[blocks][];
        Values = new float[blocks][];
        for (int i = 0; i < blocks; i++)
        {
            Keys[i] = new float[(long)capacity * c.KvDim];
            Values[i] = new float[(long)capacity * c.KvDim];
        }
    }
}
