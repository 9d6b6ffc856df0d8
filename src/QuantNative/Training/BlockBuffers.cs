using System.Numerics;
using QuantNative.Backends;
using QuantNative.Model;

namespace QuantNative.Training;

/// <summary>
/// The nine tensors of one LLaMA block (<see cref="BlockTensors{T}"/>'s shapes and order) in buffers of one backend:
/// the weights a training pass runs with, or the gradients it produces. On the CPU, <see cref="Wrap"/> shares the
/// arrays of a <see cref="BlockTensors{T}"/>; elsewhere <see cref="Upload"/> copies them to the device.
/// </summary>
public sealed class BlockBuffers<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    public required BackendBuffer<T> AttnNorm { get; init; }   // [hidden]
    public required BackendBuffer<T> Wq { get; init; }         // [heads·headDim, hidden]
    public required BackendBuffer<T> Wk { get; init; }         // [kvHeads·headDim, hidden]
    public required BackendBuffer<T> Wv { get; init; }         // [kvHeads·headDim, hidden]
    public required BackendBuffer<T> Wo { get; init; }         // [hidden, heads·headDim]
    public required BackendBuffer<T> FfnNorm { get; init; }    // [hidden]
    public required BackendBuffer<T> WGate { get; init; }      // w1 [intermediate, hidden]
    public required BackendBuffer<T> WUp { get; init; }        // w3 [intermediate, hidden]
    public required BackendBuffer<T> WDown { get; init; }      // w2 [hidden, intermediate]

    /// <summary>Biases and q/k norms (<see cref="BlockTensors{T}.Extras"/>); empty for gradients.</summary>
    public BlockExtras<BackendBuffer<T>> Extras { get; init; } = BlockExtras<BackendBuffer<T>>.Empty;

    /// <summary>The tensors in <see cref="BlockTensors{T}.All"/>'s order.</summary>
    public BackendBuffer<T>[] All() => [AttnNorm, Wq, Wk, Wv, Wo, WGate, WUp, WDown, FfnNorm];

    /// <summary>The arrays of <paramref name="t"/> as CPU buffers (no copies: ops write the arrays).</summary>
    public static BlockBuffers<T> Wrap(CpuBackend cpu, BlockTensors<T> t) => Map(t, cpu.Wrap);

    /// <summary>Device buffers holding a copy of <paramref name="t"/>.</summary>
    public static BlockBuffers<T> Upload(IBackend backend, BlockTensors<T> t) => Map(t, a =>
    {
        var b = backend.Allocate<T>(a.LongLength);
        b.Upload(a);
        return b;
    });

    /// <summary>Every tensor of a block on <paramref name="backend"/> the cheapest way (<see cref="HostArrays.Bind{T}"/>):
    /// the arrays themselves on the CPU, copies elsewhere.</summary>
    public static BlockBuffers<T> Bind(IBackend backend, BlockTensors<T> t) => Map(t, a => HostArrays.Bind(backend, a));

    /// <summary>A block of norms, the seven linears given by <see cref="BlockLinears"/> part name, and extras (none for
    /// gradients).</summary>
    public static BlockBuffers<T> Of(BackendBuffer<T> attnNorm, BackendBuffer<T> ffnNorm, Func<string, BackendBuffer<T>> linear,
        BlockExtras<BackendBuffer<T>>? extras = null) => new()
    {
        AttnNorm = attnNorm, FfnNorm = ffnNorm, Extras = extras ?? BlockExtras<BackendBuffer<T>>.Empty,
        Wq = linear(BlockLinears.Q), Wk = linear(BlockLinears.K), Wv = linear(BlockLinears.V), Wo = linear(BlockLinears.O),
        WGate = linear(BlockLinears.Gate), WUp = linear(BlockLinears.Up), WDown = linear(BlockLinears.Down),
    };

    /// <summary>Buffers of the block's shapes, contents undefined (for gradients that a pass overwrites).</summary>
    public static BlockBuffers<T> Allocate(IBackend backend, LlamaConfig c)
    {
        long d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize, q = c.QDim;
        BackendBuffer<T> A(long n) => backend.Allocate<T>(n);
        return new BlockBuffers<T>
        {
            AttnNorm = A(d), Wq = A(q * d), Wk = A(kv * d), Wv = A(kv * d), Wo = A(d * q),
            FfnNorm = A(d), WGate = A(f * d), WUp = A(f * d), WDown = A(d * f),
        };
    }

    /// <summary>Copies every buffer into the matching array of <paramref name="t"/> (waits for the device).</summary>
    public void DownloadTo(BlockTensors<T> t)
    {
        var targets = t.All().Select(x => x.Tensor).ToArray();
        var sources = All();
        for (int i = 0; i < sources.Length; i++) sources[i].Download(targets[i]);
    }

    private static BlockBuffers<T> Map(BlockTensors<T> t, Func<T[], BackendBuffer<T>> f) => new()
    {
        AttnNorm = f(t.AttnNorm), Wq = f(t.Wq), Wk = f(t.Wk), Wv = f(t.Wv), Wo = f(t.Wo),
        FfnNorm = f(t.FfnNorm), WGate = f(t.WGate), WUp = f(t.WUp), WDown = f(t.WDown),
        Extras = t.Extras.Map(f),
    };

    public void Dispose()
    {
        foreach (var b in All()) b.Dispose();
        foreach (var (_, b) in Extras.Present()) b.Dispose();
    }
}
