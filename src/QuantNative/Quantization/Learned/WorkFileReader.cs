using System.Runtime.InteropServices;
using System.Text;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// Reads a verified work file's payload (<see cref="WorkFile.OpenVerified"/>). The checksum already rules out damage;
/// the bounds are checked anyway so that no count, however it came to be wrong (a bug, another version's layout, a
/// fuzzer that fixes up checksums), allocates past the file or reads beyond it: each is one error naming the file.
/// </summary>
internal sealed class WorkFileReader(FileStream stream, long end, string file, string workDir) : IDisposable
{
    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);
    private readonly BinaryReader _r = new(stream, Encoding.UTF8, leaveOpen: false);

    public string File { get; } = file;

    private long Left => end - stream.Position;

    public int Int32() => Need(4) ? _r.ReadInt32() : 0;

    public double Double() => Need(8) ? _r.ReadDouble() : 0;

    public bool Bool()
    {
        Need(1);
        return _r.ReadByte() switch { 0 => false, 1 => true, var b => throw Damaged($"a flag byte is {b}") };
    }

    public string String()
    {
        int length;
        try
        {
            length = _r.Read7BitEncodedInt();
        }
        catch (Exception e) when (e is FormatException or EndOfStreamException)
        {
            throw Damaged("a string's length is malformed");
        }
        if (length < 0 || length > Left) throw Damaged($"a string of {length} bytes runs past the end");
        try
        {
            return Strict.GetString(_r.ReadBytes(length));
        }
        catch (DecoderFallbackException)
        {
            throw Damaged("a string is not valid UTF-8");
        }
    }

    /// <summary>A count of elements of <paramref name="elementBytes"/> each that must fit in what is left.</summary>
    public int Count(long elementBytes, string what)
    {
        int n = Int32();
        if (n < 0 || n * Math.Max(elementBytes, 1) > Left) throw Damaged($"{what} count {n} does not fit in the file");
        return n;
    }

    public float[] Floats(string what)
    {
        var a = new float[Count(sizeof(float), what)];
        stream.ReadExactly(MemoryMarshal.AsBytes(a.AsSpan()));
        return a;
    }

    public byte[] Bytes(int count)
    {
        Need(count);
        return _r.ReadBytes(count);
    }

    public void Into<T>(T[] destination) where T : struct
    {
        var bytes = MemoryMarshal.AsBytes(destination.AsSpan());
        Need(bytes.Length);
        stream.ReadExactly(bytes);
    }

    /// <summary>The payload must end exactly here.</summary>
    public void Finish()
    {
        if (Left != 0) throw Damaged($"{Left} bytes follow its contents");
    }

    public QuantNativeException Damaged(string why) => WorkFile.Damaged(File, workDir, why);

    private bool Need(long bytes)
    {
        if (bytes < 0 || bytes > Left) throw Damaged($"it ends {bytes - Left} bytes early");
        return true;
    }

    public void Dispose() => _r.Dispose();
}
