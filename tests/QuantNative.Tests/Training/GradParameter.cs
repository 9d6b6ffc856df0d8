using System.Numerics;

namespace QuantNative.Tests.Training;

/// <summary>
/// A trainable tensor and its gradient, as in PyTorch: <see cref="AdamW{T}"/> updates <see cref="Value"/> in place
/// from <see cref="Grad"/>, and skips the parameter while <see cref="Grad"/> is null.
/// </summary>
public sealed class GradParameter<T>(string name, T[] value) where T : unmanaged, IFloatingPointIeee754<T>
{
    public string Name { get; } = name;
    public T[] Value { get; } = value;
    public T[]? Grad { get; set; }
}
