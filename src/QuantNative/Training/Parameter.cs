using System.Numerics;

namespace QuantNative.Training;

/// <summary>
/// A trainable tensor: its name and its values, uploaded for training and written back after it (its gradient and
/// optimizer state live only in the backend's buffers).
/// </summary>
public sealed class Parameter<T>(string name, T[] value) where T : unmanaged, IFloatingPointIeee754<T>
{
    public string Name { get; } = name;
    public T[] Value { get; } = value;
}
