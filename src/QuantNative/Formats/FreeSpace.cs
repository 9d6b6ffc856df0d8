namespace QuantNative.Formats;

/// <summary>Free space on the file system a path is (or would be) on, so long work can refuse up front what the
/// disk cannot hold instead of failing at the end.</summary>
public static class FreeSpace
{
    /// <summary>Bytes available to this user where <paramref name="path"/> lies (its nearest existing ancestor when it
    /// does not exist yet); null when the file system does not say.</summary>
    public static long? Available(string path)
    {
        string existing = Path.GetFullPath(path);
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent) existing = parent;
        try
        {
            return new DriveInfo(existing).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null; // the writes themselves still fail cleanly
        }
    }

    public static long Mib(long bytes) => (bytes + (1 << 20) - 1) >> 20;
}
