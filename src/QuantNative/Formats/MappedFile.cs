using System.IO.MemoryMappedFiles;

namespace QuantNative.Formats;

/// <summary>
/// A read-only memory map of a whole checkpoint file. Tensors are copied out on demand, so opening a 100 GB
/// checkpoint costs address space, not memory, and loading one block touches only that block's pages.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    public string Path { get; }
    public long Length { get; }

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        // The view starts at a page boundary; PointerOffset is where byte 0 of the file sits in it.
        _base = p + _view.PointerOffset;
    }

    /// <summary>Maps <paramref name="path"/>; a missing or empty file is a <see cref="QuantNativeException"/>.</summary>
    public static MappedFile Open(string path)
    {
        if (!File.Exists(path))
            throw new QuantNativeException($"{path}: file not found");
        long length = SizeOf(path);
        // MemoryMappedFile refuses empty files; report it as the broken checkpoint it is.
        if (length == 0)
            throw new QuantNativeException($"{path}: the file is empty");
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: cannot open for reading: {e.Message}", e);
        }
        MemoryMappedFile? map = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new MappedFile(path, length, map, view);
        }
        catch
        {
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The size of the file <paramref name="path"/> names, following symbolic links (the Hugging Face cache
    /// keeps every file of a snapshot as a link into blobs/; FileInfo.Length would be the link's own size).</summary>
    public static long SizeOf(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return stream.Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: cannot open for reading: {e.Message}", e);
        }
    }

    /// <summary>Bytes [offset, offset + count) of the file; valid until Dispose.</summary>
    public ReadOnlySpan<byte> Span(long offset, int count)
    {
        CheckRange(offset, count);
        return new ReadOnlySpan<byte>(_base + offset, count);
    }

    /// <summary>Copies destination.Length raw bytes starting at <paramref name="offset"/>.</summary>
    public void CopyBytes(long offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        new ReadOnlySpan<byte>(_base + offset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// Decodes destination.Length elements of <paramref name="dtype"/> starting at <paramref name="offset"/> into fp32.
    /// Works in chunks because a span cannot address more than 2 GiB of source bytes at once.
    /// </summary>
    public void ReadFloats(long offset, FloatDType dtype, Span<float> destination)
    {
        int size = dtype.ByteSize();
        CheckRange(offset, (long)destination.Length * size);
        const int chunk = 1 << 24;
        for (int done = 0; done < destination.Length; done += chunk)
        {
            int n = Math.Min(chunk, destination.Length - done);
            var src = new ReadOnlySpan<byte>(_base + offset + (long)done * size, n * size);
            FloatConversion.Decode(src, dtype, destination.Slice(done, n));
        }
    }

    /// <summary>Takes bytes [offset, offset + count) out of this process's memory (they stay in the page cache): for a
    /// range that was copied out and will not be read through the mapping again.</summary>
    public void DropPages(long offset, long count)
    {
        CheckRange(offset, count);
        Interop.Libc.DropPages(_base + offset, count);
    }

    private void CheckRange(long offset, long count)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        // Callers validate offsets against the file's own header first; this guards against bugs, not bad files.
        if (offset < 0 || count < 0 || offset > Length - count)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"{Path}: bytes [{offset}, {offset + count}) lie outside the {Length}-byte file");
    }

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
