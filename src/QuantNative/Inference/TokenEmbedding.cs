using QuantNative.Formats;

namespace QuantNative.Inference;

/// <summary>The token embedding [vocab, hidden], read one row per token: from an fp32 array or left in the mapped
/// checkpoint in its dtype.</summary>
public sealed class TokenEmbedding
{
    private readonly float[]? _array;
    private readonly MappedTensor? _mapped;
    private readonly int _hidden;

    public TokenEmbedding(float[] array, int hidden) => (_array, _hidden) = (array, hidden);

    public TokenEmbedding(MappedTensor mapped) => (_mapped, _hidden) = (mapped, (int)mapped.Columns);

    /// <summary>Row <paramref name="id"/> into <paramref name="destination"/> (hidden values).</summary>
    public void Lookup(int id, Span<float> destination)
    {
        if (_array != null) _array.AsSpan(id * _hidden, _hidden).CopyTo(destination);
        else _mapped!.ReadRows(id, 1, destination);
    }

    public long StoredBytes => _array != null ? (long)_array.Length * sizeof(float) : _mapped!.ByteCount;
}
