namespace QuantNative.Inference;

/// <summary>
/// A model running over a growing token sequence with a key/value cache of <see cref="Capacity"/> positions: the CPU
/// engine (<see cref="InferenceSession"/>) or the device one (<see cref="Device.DeviceInferenceSession"/>). Every
/// call appends its tokens (a whole prompt or window in one pass, or one decoded token); the three differ only in
/// what comes back: every row's logits, the last row's, or the last row's arg-max (4 bytes from a device). Disposing
/// frees a device session's cache and workspace.
/// </summary>
public interface IDecodeSession : IDisposable
{
    int Position { get; }
    int Capacity { get; }

    /// <summary>Forgets every cached position (a new sequence).</summary>
    void Reset();

    /// <summary>Appends <paramref name="tokens"/> and returns their logits [T, vocab].</summary>
    float[] Forward(ReadOnlySpan<int> tokens);

    /// <summary>Appends <paramref name="tokens"/> and returns the last one's logits [vocab].</summary>
    float[] ForwardLast(ReadOnlySpan<int> tokens);

    /// <summary>Appends <paramref name="tokens"/> and returns the first arg-max of the last one's logits
    /// (<see cref="Sampler.ArgMax"/>): the greedy next token.</summary>
    int ForwardGreedy(ReadOnlySpan<int> tokens);
}

/// <summary>Makes sessions of one model on one engine (the CPU, or a device the model was uploaded to once).</summary>
public interface IDecodeEngine : IDisposable
{
    /// <summary>What runs where, for summaries ("on the CPU: mapped BF16", "every op on the device ...").</summary>
    string Placement { get; }

    /// <summary>Bytes of weights one decode step reads in the form this engine holds them (a device's float32 copies of
    /// dense tensors count 4 bytes a value).</summary>
    long WeightBytesPerToken { get; }

    IDecodeSession Open(int capacity);
}

/// <summary>The CPU engine: <see cref="InferenceSession"/>s of the model.</summary>
public sealed class CpuDecodeEngine(InferenceModel model) : IDecodeEngine
{
    public string Placement => $"on the CPU: {model.Form}";

    public long WeightBytesPerToken => model.WeightBytesPerToken;

    public IDecodeSession Open(int capacity) => new InferenceSession(model, capacity);

    public void Dispose() { }
}
