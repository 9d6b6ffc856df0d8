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

    /// <summary>Rows first..first+count−1 into <paramref name="destination"/> (count·hidden values): the device decode
    /// path's upload, a slice at a time.</summary>
    public void ReadRows(int first, int count, Span<float> destination)
    {
        if (_array != null) _array.AsSpan(first * _hidden, count * _hidden).CopyTo(destination);
        else _mapped!.ReadRows(first, count, destination);
    }

    public int Hidden => _hidden;

    /// <summary>What holds the rows (the fp32 array or the mapped tensor): a head tied to the embedding holds the same
    /// one, so the device path uploads it once.</summary>
    public object Source => (object?)_array ?? _mapped!;

    public long StoredBytes => _array != null ? (long)_array.Length * sizeof(float) : _mapped!.ByteCount;
}
