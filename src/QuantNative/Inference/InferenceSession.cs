using QuantNative.Cpu;
using QuantNative.Model;

namespace QuantNative.Inference;

/// <summary>
/// Runs a model over a growing token sequence with a key/value cache sized for <see cref="Capacity"/> tokens (the
/// context actually used: a window, or a prompt plus the tokens to generate). <see cref="Forward"/> takes any number
/// of new tokens (a whole evaluation window or prompt in one pass, or one generated token) and returns their logits.
/// The weights are read in the form the model holds them (<see cref="InferenceModel"/>).
/// </summary>
public sealed class InferenceSession : IDecodeSession
{
    private readonly InferenceModel _model;
    private readonly Rope _rope;
    private readonly KvCache _cache;
    private BlockWorkspace? _workspace;
    private float[] _residual = [];

    public int Position { get; private set; }
    public int Capacity => _cache.Capacity;

    public InferenceSession(LlamaModel model, int capacity)
        : this(InferenceModel.From(model), capacity) { }

    public InferenceSession(InferenceModel model, int capacity)
    {
        var c = model.Config;
        if (capacity <= 0 || capacity > c.MaxPositionEmbeddings)
            throw new QuantNativeException(
                $"context of {capacity} tokens is outside 1..{c.MaxPositionEmbeddings}, the model's maximum");
        _model = model;
        _rope = new Rope(c.HeadDim, capacity, c.Rope);
        _cache = new KvCache(c, capacity, c.NumLayers);
    }

    /// <summary>Forgets every cached position (a new sequence).</summary>
    public void Reset() => Position = 0;

    public float[] ForwardLast(ReadOnlySpan<int> tokens)
    {
        var logits = Forward(tokens);
        return logits.Length == 0 ? logits : logits[^_model.Config.VocabSize..];
    }

    public int ForwardGreedy(ReadOnlySpan<int> tokens)
    {
        if (tokens.Length == 0) throw new QuantNativeException("a forward pass needs at least one token to return its logits");
        return Sampler.ArgMax(ForwardLast(tokens));
    }

    /// <summary>Nothing to free: the cache is managed memory.</summary>
    public void Dispose() { }

    /// <summary>Appends <paramref name="tokens"/> to the sequence and returns their logits [T, vocab].</summary>
    public float[] Forward(ReadOnlySpan<int> tokens)
    {
        var c = _model.Config;
        int t = tokens.Length, d = c.HiddenSize;
        if (t == 0) return [];
        if (Position + t > Capacity)
            throw new QuantNativeException($"sequence of {Position + t} tokens exceeds the session's context of {Capacity}");
        if (_workspace == null || _workspace.Capacity < t)
        {
            _workspace = new BlockWorkspace(c, t);
            _residual = new float[(long)t * d];
        }
        var x = _residual;
        for (int i = 0; i < t; i++)
        {
            int id = tokens[i];
            if ((uint)id >= (uint)c.VocabSize)
                throw new QuantNativeException($"token id {id} at position {Position + i} is outside the vocabulary of {c.VocabSize}");
            _model.Embedding.Lookup(id, x.AsSpan(i * d, d));
        }
        for (int b = 0; b < c.NumLayers; b++)
            BlockForward.Forward(x, _model.Blocks[b], c, _rope, _cache.Keys[b], _cache.Values[b], Position, t, _workspace);

        RmsNorm.Forward(_workspace.Normed, x, _model.FinalNorm, t, d, c.RmsNormEps);
        var logits = new float[(long)t * c.VocabSize];
        _model.Output.Forward(_workspace.Normed.AsSpan(0, t * d), logits, t, accumulate: false);
        Position += t;
        return logits;
    }
}
