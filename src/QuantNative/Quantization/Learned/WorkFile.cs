using System.Security.Cryptography;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// One file of the learned methods' work directory: the payload, then its SHA-256 (32 bytes), written under a
/// temporary name and renamed, and verified before a resume reads a byte of it. A file changed or cut short after it
/// was written (a bad disk, a copy that stopped, a hand edit) would otherwise resume into a different model with no
/// word; now it is an error naming the file and how to start over. Every I/O failure is one error line naming the path
/// and the OS's reason, with the temporary file removed, so a re-run after the cause is fixed continues.
/// </summary>
internal static class WorkFile
{
    public const int ChecksumBytes = 32;

    /// <summary>Writes <paramref name="file"/> with its checksum; <paramref name="workDir"/> is named in errors.</summary>
    public static void Write(string file, string workDir, Action<BinaryWriter> write)
    {
        string temp = file + ".partial";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                using (var hashing = new HashingStream(stream))
                using (var w = new BinaryWriter(hashing, System.Text.Encoding.UTF8, leaveOpen: true))
                {
                    write(w);
                    w.Flush();
                    stream.Write(hashing.Hash());
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new QuantNativeException(
                $"{file}: writing the resume state failed ({Reason(e)}); the state of the last finished block in " +
                $"{workDir} is kept, so the same command continues from there once this is fixed", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>A small text file (the fingerprint, read by people too), written the same way but without a
    /// checksum: a damaged one no longer matches the run's and is refused as another run's.</summary>
    public static void WriteText(string file, string workDir, string text)
    {
        string temp = file + ".partial";
        try
        {
            File.WriteAllText(temp, text);
            File.Move(temp, file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new QuantNativeException($"{file}: writing the resume state failed ({Reason(e)}); fix that and run " +
                                           $"the same command again ({workDir} is kept)", e);
        }
    }

    /// <summary>
    /// Opens <paramref name="file"/> after checking its checksum, positioned at the payload's start; the reader's
    /// <see cref="WorkFileReader.End"/> is where the payload ends. A missing file is <paramref name="missing"/>'s message.
    /// </summary>
    public static WorkFileReader OpenVerified(string file, string workDir, string missing)
    {
        if (!File.Exists(file)) throw new QuantNativeException($"{file}: {missing}; {StartOver(workDir)}");
        FileStream? stream = null;
        try
        {
            stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            long payload = stream.Length - ChecksumBytes;
            if (payload < 0 || !Matches(stream, payload))
                throw Damaged(file, workDir, "its checksum does not match: it was cut short or changed after it was written");
            stream.Position = 0;
            var reader = new WorkFileReader(stream, payload, file, workDir);
            stream = null;
            return reader;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{file}: reading the resume state failed ({Reason(e)})", e);
        }
        finally
        {
            stream?.Dispose();
        }
    }

    public static QuantNativeException Damaged(string file, string workDir, string why) =>
        new($"{file}: the resume state is damaged ({why}); {StartOver(workDir)}");

    public static string StartOver(string workDir) =>
        $"delete {workDir} to start over (the run then begins again from block 0)";

    /// <summary>The OS's reason, without the path the messages already name.</summary>
    public static string Reason(Exception e) => e.Message.ReplaceLineEndings(" ");

    public static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static bool Matches(Stream stream, long payload)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        for (long left = payload; left > 0;)
        {
            int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) return false;
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        Span<byte> stored = stackalloc byte[ChecksumBytes];
        stream.ReadExactly(stored);
        return hash.GetHashAndReset().AsSpan().SequenceEqual(stored);
    }

    /// <summary>A write-only pass-through that hashes every byte written.</summary>
    private sealed class HashingStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public byte[] Hash() => _hash.GetHashAndReset();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
