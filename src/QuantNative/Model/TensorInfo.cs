namespace QuantNative.Model;

/// <summary>A tensor as stored in a checkpoint: its name there, element type and shape (for `qn info`).</summary>
public sealed record TensorInfo(string Name, string DType, long[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public override string ToString() => $"{Name} {DType} [{string.Join(", ", Shape)}]";
}
