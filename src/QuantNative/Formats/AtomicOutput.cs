namespace QuantNative.Formats;

/// <summary>
/// Writers never leave a half-written checkpoint under its final name: they write a hidden sibling (same directory,
/// so the final step is a rename within one file system) and move it into place only when it is complete.
/// </summary>
internal static class AtomicOutput
{
    /// <summary>A unique hidden name beside <paramref name="finalPath"/> for its in-progress copy.</summary>
    public static string TempSibling(string finalPath)
    {
        string full = Path.GetFullPath(finalPath).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        string dir = Path.GetDirectoryName(full) ?? throw new QuantNativeException($"{finalPath}: not a writable location");
        return Path.Combine(dir, $".{Path.GetFileName(full)}.partial-{Guid.NewGuid():N}");
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
                throw new QuantNativeException($"{finalDir}: already exists (ask for overwrite to replace it)");
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
