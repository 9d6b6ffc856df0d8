using QuantNative.Cpu;
using QuantNative.Cuda;
using QuantNative.Model;

namespace QuantNative.Inference.Device;

/// <summary>
/// The decode engine on a device (a GPU or the emulator), with the contract of <see cref="InferenceSession"/>: every
/// step of the forward runs there, on activations that stay there — the embedding lookup (kernels/infer/embedding.cu)
/// of the uploaded ids, then per block RMSNorm, the q/k/v linears writing k and v straight into the device-resident
/// KV cache's rows, q/k/v biases (Qwen2), per-head q/k RMSNorm (Qwen3), RoPE from the C# <see cref="Rope"/>'s tables
/// uploaded once (every scaling type; positions offset into them), the decode attention over the cache
/// (kernels/infer/attention_decode.cu: GQA, causal, the sliding window as the CPU engine applies it), the o linear
/// added to the residual, RMSNorm, gate/up, SwiGLU, down added to the residual; then the final norm and the head.
/// Linears run as <see cref="DeviceModel"/> placed them (low-bit kernels, or cuBLAS Sgemm in float32).
/// The host sends the token ids (4 bytes each) and receives what was asked: every row's logits
/// (<see cref="Forward"/>, for evaluation), the last row's (<see cref="ForwardLast"/>, for sampling), or its arg-max
/// (<see cref="ForwardGreedy"/>, kernels/infer/argmax.cu: 4 bytes). The last two run the final norm and the head on
/// the last row only. The KV cache holds <see cref="Capacity"/> positions, the context actually used.
/// Not thread-safe (one runtime stream).
/// </summary>
public sealed unsafe class DeviceInferenceSession : IDecodeSession, IDisposable
{
    private readonly DeviceModel _model;
    private readonly ICudaRuntime _rt;
    private readonly DeviceOps _ops;
    private readonly List<DeviceBuffer> _buffers = new();
    private readonly DevicePtr[] _keys, _values;
    private readonly DevicePtr _cos, _sin;
    private readonly DeviceBuffer _x, _normed, _q, _attention, _gate, _up, _inverseRms, _ids, _logits, _result;
    private readonly DeviceBuffer _attentionChunks; // split rows' partial results (contexts past 12,288 keys)
    private readonly LinearScratch _scratch;
    private int _rows; // tokens the workspace holds
    private bool _disposed;

    public DeviceInferenceSession(DeviceModel model, int capacity)
    {
        var c = model.Config;
        if (capacity <= 0 || capacity > c.MaxPositionEmbeddings)
            throw new QuantNativeException(
                $"context of {capacity} tokens is outside 1..{c.MaxPositionEmbeddings}, the model's maximum");
        _model = model;
        _rt = model.Runtime;
        _ops = model.Ops;
        Capacity = capacity;
        DeviceBuffer Buffer()
        {
            var b = new DeviceBuffer(_rt);
            _buffers.Add(b);
            return b;
        }
        (_x, _normed, _q, _attention, _gate, _up, _inverseRms, _ids, _logits, _result) =
            (Buffer(), Buffer(), Buffer(), Buffer(), Buffer(), Buffer(), Buffer(), Buffer(), Buffer(), Buffer());
        _scratch = new LinearScratch(Buffer(), Buffer(), Buffer());
        _attentionChunks = Buffer();
        try
        {
            var rope = new Rope(c.HeadDim, capacity, c.Rope);
            _cos = Buffer().Fill(rope.CosTable);
            _sin = Buffer().Fill(rope.SinTable);
            _keys = new DevicePtr[c.NumLayers];
            _values = new DevicePtr[c.NumLayers];
            long cacheBytes = (long)capacity * c.KvDim * sizeof(float);
            for (int b = 0; b < c.NumLayers; b++)
            {
                _keys[b] = Buffer().Ensure(cacheBytes);
                _values[b] = Buffer().Ensure(cacheBytes);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Position { get; private set; }
    public int Capacity { get; }

    /// <summary>Tests: the decode attention's keys per chunk, so that short rows run the split kernels too
    /// (<see cref="InferLaunch.AttentionSplit"/>; null: split only rows past one block's shared memory).</summary>
    internal int? AttentionChunkOverride { get; set; }

    public void Reset() => Position = 0;

    public float[] Forward(ReadOnlySpan<int> tokens)
    {
        if (tokens.Length == 0) return [];
        var logits = Run(tokens, allRows: true);
        return Download(logits, (long)tokens.Length * _model.Config.VocabSize);
    }

    public float[] ForwardLast(ReadOnlySpan<int> tokens)
    {
        RequireTokens(tokens);
        return Download(Run(tokens, allRows: false), _model.Config.VocabSize);
    }

    public int ForwardGreedy(ReadOnlySpan<int> tokens)
    {
        RequireTokens(tokens);
        var logits = Run(tokens, allRows: false);
        var result = _result.Ensure(sizeof(int));
        _ops.ArgMax(result, logits, _model.Config.VocabSize);
        int id;
        _rt.CopyDeviceToHost(&id, result, sizeof(int));
        return id;
    }

    private static void RequireTokens(ReadOnlySpan<int> tokens)
    {
        if (tokens.Length == 0) throw new QuantNativeException("a forward pass needs at least one token to return its logits");
    }

    /// <summary>Appends the tokens; returns the device logits [rows, vocab] of every token or of the last.</summary>
    private DevicePtr Run(ReadOnlySpan<int> tokens, bool allRows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var c = _model.Config;
        int t = tokens.Length, d = c.HiddenSize, first = Position;
        if (Position + t > Capacity)
            throw new QuantNativeException($"sequence of {Position + t} tokens exceeds the session's context of {Capacity}");
        for (int i = 0; i < t; i++)
            if ((uint)tokens[i] >= (uint)c.VocabSize)
                throw new QuantNativeException(
                    $"token id {tokens[i]} at position {Position + i} is outside the vocabulary of {c.VocabSize}");
        EnsureWorkspace(t);
        fixed (int* ids = tokens) _rt.CopyHostToDevice(_ids.Ptr, ids, (long)t * sizeof(int));

        DevicePtr x = _x.Ptr;
        _ops.EmbeddingLookup(x, _model.Embedding, _ids.Ptr, t, d, _model.EmbeddingDType);
        for (int b = 0; b < c.NumLayers; b++) Block(b, x, t, first);

        int rows = allRows ? t : 1;
        var last = x.Offset((long)(t - rows) * d * sizeof(float));
        _ops.RmsNorm(_normed.Ptr, _inverseRms.Ptr, last, _model.FinalNorm, rows, d, c.RmsNormEps);
        var logits = _logits.Ensure((long)rows * c.VocabSize * sizeof(float));
        _model.Output.Forward(_ops, logits, _normed.Ptr, rows, accumulate: false, _scratch);
        Position += t;
        return logits;
    }

    /// <summary>One block in place on the residual x [t, hidden], in the order of <see cref="BlockForward"/>.</summary>
    private void Block(int layer, DevicePtr x, int t, int first)
    {
        var c = _model.Config;
        var w = _model.Blocks[layer];
        var e = w.Extras;
        int d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize;
        long rowBytes = (long)kv * sizeof(float);
        DevicePtr normed = _normed.Ptr, q = _q.Ptr, attention = _attention.Ptr, gate = _gate.Ptr, up = _up.Ptr;
        DevicePtr k = _keys[layer].Offset(first * rowBytes), v = _values[layer].Offset(first * rowBytes);

        _ops.RmsNorm(normed, _inverseRms.Ptr, x, w.AttnNorm, t, d, c.RmsNormEps);
        Linear(w, BlockLinears.Q, q, normed, t);
        Linear(w, BlockLinears.K, k, normed, t); // the new keys and values go straight into the cache's rows
        Linear(w, BlockLinears.V, v, normed, t);
        if (e.QBias != null) _ops.AddBias(q, e.QBias.Ptr, t, c.QDim);
        if (e.KBias != null) _ops.AddBias(k, e.KBias.Ptr, t, kv);
        if (e.VBias != null) _ops.AddBias(v, e.VBias.Ptr, t, kv);
        if (e.QNorm != null) _ops.RmsNorm(q, _inverseRms.Ptr, q, e.QNorm.Ptr, t * c.NumHeads, c.HeadDim, c.RmsNormEps);
        if (e.KNorm != null) _ops.RmsNorm(k, _inverseRms.Ptr, k, e.KNorm.Ptr, t * c.NumKvHeads, c.HeadDim, c.RmsNormEps);
        _ops.Rope(q, _cos, _sin, first, t, c.NumHeads, c.HeadDim);
        _ops.Rope(k, _cos, _sin, first, t, c.NumKvHeads, c.HeadDim);
        _ops.AttentionDecode(attention, q, _keys[layer], _values[layer], t, first, c.NumHeads, c.NumKvHeads, c.HeadDim,
            c.SlidingWindow, _attentionChunks, AttentionChunkOverride);

        Linear(w, BlockLinears.O, x, attention, t, accumulate: true);
        if (e.OBias != null) _ops.AddBias(x, e.OBias.Ptr, t, d);
        _ops.RmsNorm(normed, _inverseRms.Ptr, x, w.FfnNorm, t, d, c.RmsNormEps);
        Linear(w, BlockLinears.Gate, gate, normed, t);
        Linear(w, BlockLinears.Up, up, normed, t);
        _ops.SwiGlu(gate, gate, up, (long)t * f);
        Linear(w, BlockLinears.Down, x, gate, t, accumulate: true);
    }

    private void Linear(DeviceBlock w, string part, DevicePtr y, DevicePtr x, int t, bool accumulate = false) =>
        w.Linears[part].Forward(_ops, y, x, t, accumulate, _scratch);

    private void EnsureWorkspace(int t)
    {
        if (t <= _rows) return;
        var c = _model.Config;
        long f = sizeof(float);
        _x.Ensure(t * (long)c.HiddenSize * f);
        _normed.Ensure(t * (long)c.HiddenSize * f);
        _q.Ensure(t * (long)c.QDim * f);
        _attention.Ensure(t * (long)c.QDim * f);
        _gate.Ensure(t * (long)c.IntermediateSize * f);
        _up.Ensure(t * (long)c.IntermediateSize * f);
        _inverseRms.Ensure(t * (long)Math.Max(c.NumHeads, 1) * f);
        _ids.Ensure(t * (long)sizeof(int));
        _rows = t;
    }

    private float[] Download(DevicePtr source, long count)
    {
        var host = new float[count];
        fixed (float* p = host) _rt.CopyDeviceToHost(p, source, count * sizeof(float));
        return host;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var b in _buffers) b.Dispose();
        _buffers.Clear();
    }
}

/// <summary>The device engine: one <see cref="DeviceModel"/> upload shared by every session it opens.</summary>
public sealed class DeviceDecodeEngine(DeviceModel model) : IDecodeEngine
{
    public DeviceModel Model => model;

    public string Placement => model.Placement();

    public long WeightBytesPerToken => model.WeightBytesPerToken;

    public IDecodeSession Open(int capacity) => new DeviceInferenceSession(model, capacity);

    /// <summary>Frees the uploaded model (the runtime stays the caller's).</summary>
    public void Dispose() => model.Dispose();
}
