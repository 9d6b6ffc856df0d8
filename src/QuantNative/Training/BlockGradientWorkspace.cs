using System.Numerics;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// Scratch of <see cref="TrainingBlock.Backward"/> for windows of up to <see cref="Capacity"/> tokens, reused
/// across steps: four [T, hidden], two [T, kvDim] and two [T, intermediate] tensors.
/// </summary>
public sealed class BlockGradientWorkspace<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Capacity { get; }
    internal T[] DH { get; }          // dL/dh [T, hidden]
    internal T[] DNormed { get; }     // dL/dn2(h), then dL/dn1(x) [T, hidden]
    internal T[] DAttention { get; }  // [T, hidden]
    internal T[] DQ { get; }          // [T, hidden]
    internal T[] DK { get; }          // [T, kvDim]
    internal T[] DV { get; }          // [T, kvDim]
    internal T[] DGate { get; }       // dL/d(silu(a)⊙b), then dL/da [T, intermediate]
    internal T[] DUp { get; }         // [T, intermediate]

    public BlockGradientWorkspace(LlamaConfig c, int capacity)
    {
        Capacity = capacity;
        long t = capacity, d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize;
        DH = new T[t * d]; DNormed = new T[t * d]; DAttention = new T[t * d]; DQ = new T[t * d];
        DK = new T[t * kv]; DV = new T[t * kv]; DGate = new T[t * f]; DUp = new T[t * f];
    }
}
