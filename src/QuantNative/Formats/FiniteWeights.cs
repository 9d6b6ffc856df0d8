using System.Numerics;
using System.Runtime.InteropServices;

namespace QuantNative.Formats;

/// <summary>
/// A NaN or infinity in a weight makes every later activation NaN, and `qn eval` would print "perplexity NaN" and
/// succeed. So weights are checked as they are read: decoded in chunks small enough to stay in cache, each checked
/// right after it lands, so the check costs no extra pass over memory.
/// </summary>
internal static class FiniteWeights
{
    private const int Chunk = 1 << 14; // 64 KiB of floats: still in L2 when checked

    /// <summary><see cref="MappedFile.ReadFloats"/>, refusing a non-finite value with the file, tensor and element.</summary>
    public static void Read(MappedFile file, long offset, FloatDType dtype, Span<float> destination, string path,
        string tensor)
    {
        int size = dtype.ByteSize();
        for (int done = 0; done < destination.Length; done += Chunk)
        {
            var part = destination.Slice(done, Math.Min(Chunk, destination.Length - done));
            file.ReadFloats(offset + (long)done * size, dtype, part);
            Check(part, path, tensor, done);
        }
    }

    /// <summary>Refuses a NaN or infinity in <paramref name="values"/>, elements <paramref name="first"/>… of the
    /// tensor, just decoded (so still in cache: the inference path checks each row or tile it converts).</summary>
    public static void Check(ReadOnlySpan<float> values, string path, string tensor, long first)
    {
        int bad = IndexOfNonFinite(values);
        if (bad >= 0)
            throw new QuantNativeException(
                $"{path}: tensor '{tensor}' holds {values[bad]} at element {first + bad}; a weight must be finite " +
                "(the checkpoint is damaged, or was saved after training diverged)");
    }

    /// <summary>The index of the first NaN or ±infinity, or -1.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        // A float is NaN or infinite exactly when its exponent bits are all ones.
        var bits = MemoryMarshal.Cast<float, uint>(values);
        var exponent = new Vector<uint>(0x7F80_0000u);
        int i = 0;
        for (; i + Vector<uint>.Count <= bits.Length; i += Vector<uint>.Count)
            if (Vector.EqualsAny(new Vector<uint>(bits[i..]) & exponent, exponent))
                break;
        for (; i < bits.Length; i++)
            if ((bits[i] & 0x7F80_0000u) == 0x7F80_0000u) return i;
        return -1;
    }
}
