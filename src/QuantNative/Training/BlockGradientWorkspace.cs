using System.Numerics;
using QuantNative.Backends;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// Scratch of <see cref="TrainingBlock.Backward"/> for windows of up to <see cref="Capacity"/> tokens, reused
/// across steps, in buffers of one backend: two [T, hidden], two [T, heads·headDim], two [T, kvDim] and two
/// [T, intermediate] tensors.
/// </summary>
public sealed class BlockGradientWorkspace<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    public IBackend Backend { get; }
    public int Capacity { get; }
    internal BackendBuffer<T> DH { get; }          // dL/dh [T, hidden]
    internal BackendBuffer<T> DNormed { get; }     // dL/dn2(h), then dL/dn1(x) [T, hidden]
    internal BackendBuffer<T> DAttention { get; }  // [T, heads·headDim]
    internal BackendBuffer<T> DQ { get; }          // [T, heads·headDim]
    internal BackendBuffer<T> DK { get; }          // [T, kvDim]
    internal BackendBuffer<T> DV { get; }          // [T, kvDim]
    internal BackendBuffer<T> DGate { get; }       // dL/d(silu(a)⊙b), then dL/da [T, intermediate]
    internal BackendBuffer<T> DUp { get; }         // [T, intermediate]

    /// <summary>On the CPU (<see cref="CpuBackend.Shared"/>), for the array overloads of <see cref="TrainingBlock"/>.</summary>
    public BlockGradientWorkspace(LlamaConfig c, int capacity) : this(CpuBackend.Shared, c, capacity) { }

    public BlockGradientWorkspace(IBackend backend, LlamaConfig c, int capacity)
    {
        Backend = backend;
        Capacity = capacity;
        long t = capacity, d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, qd = c.QDim;
        BackendBuffer<T> A(long n) => backend.Allocate<T>(n);
        DH = A(t * d); DNormed = A(t * d); DAttention = A(t * qd); DQ = A(t * qd);
        DK = A(t * kv); DV = A(t * kv); DGate = A(t * f); DUp = A(t * f);
    }

    public void Dispose()
    {
        foreach (var b in new[] { DH, DNormed, DAttention, DQ, DK, DV, DGate, DUp }) b.Dispose();
    }
}
