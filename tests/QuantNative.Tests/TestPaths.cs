namespace QuantNative.Tests;

/// <summary>Where the shared test data lives: ../shared beside the repository root (never copied into the project).</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string Stories260K => Path.Combine(Shared, "models", "stories260K", "stories260K.bin");
    public static string Tok512 => Path.Combine(Shared, "models", "stories260K", "tok512.bin");
    public static string ReferenceDir => Path.Combine(Shared, "models", "stories260K", "reference");
    public static string TinyStories => Path.Combine(Shared, "data", "tinystories_valid_head.txt");
    public static string WikiText => Path.Combine(Shared, "data", "wiki.test.raw");

    /// <summary>A fresh empty directory under the system temp folder; the caller deletes it.</summary>
    public static string NewTempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "qn-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "QuantNative.sln")))
                return dir.FullName;
        throw new InvalidOperationException("QuantNative.sln not found above " + AppContext.BaseDirectory);
    }
}
