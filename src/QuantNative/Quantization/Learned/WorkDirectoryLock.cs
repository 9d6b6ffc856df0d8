using System.Globalization;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// One run at a time in a work directory: an exclusive lock on its `lock` file (an OS file lock, so a killed run
/// releases it with no cleanup), held from before the first state is read until the output is written. A second run
/// into the same --out is refused at once, naming the running process (from `owner`, written by the holder; the
/// lock file itself cannot be read by others while held). On release, a directory that holds no finished block is
/// removed (a failed start leaves nothing behind), and so is one whose run completed.
/// </summary>
public sealed class WorkDirectoryLock : IDisposable
{
    private const string LockFile = "lock", OwnerFile = "owner", StateFile = "state.bin";
    private FileStream? _handle;
    private bool _completed;

    public string Path { get; }

    private WorkDirectoryLock(string path, FileStream handle) => (Path, _handle) = (path, handle);

    /// <summary>Takes the lock of <paramref name="workDir"/> (creating it), or refuses naming the holder.</summary>
    public static WorkDirectoryLock Acquire(string workDir, string option = "--out")
    {
        string lockPath = System.IO.Path.Combine(workDir, LockFile), owner = System.IO.Path.Combine(workDir, OwnerFile);
        FileStream handle;
        try
        {
            Directory.CreateDirectory(workDir);
            handle = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (File.Exists(lockPath) && e is not (DirectoryNotFoundException or PathTooLongException))
        {
            throw new QuantNativeException(
                $"{option}: another qn run ({Holder(owner)}) is working in {workDir} right now; two runs into one " +
                "output would overwrite each other's state: wait for it to finish, or stop it and run this again", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{workDir}: cannot create the work directory ({WorkFile.Reason(e)})", e);
        }
        try
        {
            var started = System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime();
            File.WriteAllText(owner, $"process {Environment.ProcessId}, started {started.ToString("u", CultureInfo.InvariantCulture)}\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            handle.Dispose();
            throw new QuantNativeException($"{owner}: cannot be written ({WorkFile.Reason(e)})", e);
        }
        return new WorkDirectoryLock(workDir, handle);
    }

    /// <summary>The output is written: the directory goes when the lock is released.</summary>
    public void Complete() => _completed = true;

    public void Dispose()
    {
        if (_handle == null) return;
        // Removed while the lock is still held (allowed on Linux), so no other run can take it in between.
        if (_completed || !File.Exists(System.IO.Path.Combine(Path, StateFile)))
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        _handle.Dispose();
        _handle = null;
    }

    private static string Holder(string owner)
    {
        try
        {
            return File.ReadAllText(owner).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "its process is not recorded";
        }
    }
}
