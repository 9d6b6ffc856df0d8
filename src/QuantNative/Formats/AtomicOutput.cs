namespace QuantNative.Formats;

/// <summary>
/// Writers never leave a half-written checkpoint under its final name: they write a hidden sibling (same directory,
/// so the final step is a rename within one file system) and move it into place only when it is complete.
/// </summary>
internal static class AtomicOutput
{
    /// <summary>A unique hidden name beside <paramref name="finalPath"/> for its in-progress copy:
    /// .NAME.partial-PID-GUID, the writing process's id in it so that a later run can tell a killed run's leftover
    /// from a copy another run is still writing (<see cref="RemoveStale"/>).</summary>
    public static string TempSibling(string finalPath)
    {
        var (dir, name) = Split(finalPath);
        return Path.Combine(dir, $"{Prefix(name)}{Environment.ProcessId}-{Guid.NewGuid():N}");
    }

    /// <summary>
    /// Removes the in-progress copies of <paramref name="finalPath"/> that a killed run left (a kill during the write
    /// leaves one, which can look like a complete checkpoint): those whose writing process no longer runs. A copy of a
    /// live process, this one's included, is left alone. Names without a process id are not ours and stay.
    /// </summary>
    public static void RemoveStale(string finalPath)
    {
        var (dir, name) = Split(finalPath);
        if (!Directory.Exists(dir)) return;
        string prefix = Prefix(name);
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir, prefix + "*"))
        {
            string rest = Path.GetFileName(entry)[prefix.Length..];
            int dash = rest.IndexOf('-');
            if (dash > 0 && int.TryParse(rest[..dash], out int pid) && !IsRunning(pid)) TryDelete(entry);
        }
    }

    private static string Prefix(string name) => $".{name}.partial-";

    private static (string Dir, string Name) Split(string finalPath)
    {
        if (string.IsNullOrWhiteSpace(finalPath))
            throw new QuantNativeException($"'{finalPath}': expected an output path, not an empty one");
        string full = Path.GetFullPath(finalPath).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        string dir = Path.GetDirectoryName(full) ?? throw new QuantNativeException($"{finalPath}: not a writable location");
        return (dir, Path.GetFileName(full));
    }

    private static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Moves a finished temporary file over <paramref name="finalPath"/> (replacing it).</summary>
    public static void CommitFile(string tempPath, string finalPath) => File.Move(tempPath, finalPath, overwrite: true);

    /// <summary>
    /// Moves a finished temporary directory to <paramref name="finalDir"/>. An existing directory is replaced only
    /// when <paramref name="overwrite"/>; it is moved aside first so that a failed move keeps the old one.
    /// </summary>
    public static void CommitDirectory(string tempDir, string finalDir, bool overwrite)
    {
        string? aside = null;
        if (Directory.Exists(finalDir) || File.Exists(finalDir))
        {
            if (!overwrite)
                throw new QuantNativeException($"{finalDir}: already exists (use --force to replace it)");
            if (File.Exists(finalDir))
                throw new QuantNativeException($"{finalDir}: is a file, expected a directory to replace");
            aside = TempSibling(finalDir);
            Directory.Move(finalDir, aside);
        }
        try
        {
            Directory.Move(tempDir, finalDir);
        }
        catch
        {
            if (aside != null) Directory.Move(aside, finalDir);
            throw;
        }
        if (aside != null) Directory.Delete(aside, recursive: true);
    }

    /// <summary>Best-effort removal of an abandoned temporary file or directory (the original error matters more).</summary>
    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
