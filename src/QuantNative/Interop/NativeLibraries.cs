using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>
/// Resolves every native library the project calls, by logical name, at run time. Toolkit libraries are tried by
/// versioned soname (newest first) so one build runs against CUDA 11, 12 or 13; nothing is bound at build time.
/// Project-built libraries (the CUDA emulator and its self-test kernels) are searched next to the executable, in
/// $QN_NATIVE_DIR, and in the repository's artifacts/native (development and tests). System libraries are looked for
/// next to the executable first (the self-contained bundle ships OpenBLAS and LAPACKE there, with their own
/// dependencies preloaded from <see cref="BundleManifest"/> so the dynamic linker finds them by soname), then by the
/// system's search (LD_LIBRARY_PATH, the ldconfig cache), then, for the CUDA libraries, in a toolkit's lib64
/// ($CUDA_HOME, /usr/local/cuda), which the loader's search does not cover.
/// </summary>
public static class NativeLibraries
{
    public const string OpenBlas = "openblas";
    public const string Lapacke = "lapacke";
    public const string Cuda = "cuda";
    public const string Cublas = "cublas";
    public const string Cusolver = "cusolver";
    public const string Emulator = "qn_emulator";
    /// <summary>The emulator's own test kernels (native/tests/kernels); loading it registers them with the emulator.</summary>
    public const string EmulatorSelfTest = "qn_emulator_selftest";

    private static readonly HashSet<string> ProjectLibraries = [Emulator, EmulatorSelfTest];

    private static readonly Dictionary<string, (string[] Candidates, string Hint)> Known = new()
    {
        [OpenBlas] = (["libopenblas.so.0", "libopenblas.so", "libopenblas.dll", "openblas.dll", "libopenblas.dylib"],
            "install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0-pthread; ./build.sh does this)"),
        [Lapacke] = (["liblapacke.so.3", "liblapacke.so", "liblapacke.dll", "lapacke.dll", "libopenblas.so.0"],
            "install LAPACKE (Debian/Ubuntu: apt-get install liblapacke; ./build.sh does this)"),
        [Cuda] = (["libcuda.so.1", "libcuda.so", "nvcuda.dll"],
            "no NVIDIA driver found (libcuda.so.1); use --device cpu or --device emulate"),
        [Cublas] = (["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"],
            "cuBLAS not found (tried CUDA 13, 12, 11); install the CUDA toolkit's cuBLAS"),
        [Cusolver] = (["libcusolver.so.12", "libcusolver.so.11", "cusolver64_12.dll", "cusolver64_11.dll"],
            "cuSOLVER not found (tried CUDA 13/12's .12 and 11's .11); install the CUDA toolkit's cuSOLVER"),
        [Emulator] = (["libqn_emulator.so", "qn_emulator.dll", "libqn_emulator.dylib"],
            "the CUDA emulator library was not built; run ./build.sh (or cmake -S . -B build && cmake --build build)"),
        [EmulatorSelfTest] = (["libqn_emulator_selftest.so", "qn_emulator_selftest.dll", "libqn_emulator_selftest.dylib"],
            "the emulator's self-test kernels were not built; run ./build.sh (or cmake -S . -B build && cmake --build build)"),
    };

    private static readonly Dictionary<string, IntPtr> Loaded = new();
    private static readonly Dictionary<string, string> LoadedNames = new();
    private static readonly Lock Gate = new();

    // A library's resolver must be in place before its first P/Invoke, whoever calls first: a module initializer
    // is the one hook that guarantees that.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);

    /// <summary>
    /// Loads a library or throws a <see cref="QuantNativeException"/> saying which files were tried and what to
    /// install. Call before the first P/Invoke into that library so a missing library is a clear error.
    /// </summary>
    public static IntPtr Require(string logicalName)
    {
        var handle = TryLoad(logicalName);
        if (handle != IntPtr.Zero) return handle;
        throw MissingLibrary(logicalName, ProjectLibraries.Contains(logicalName) ? ProjectLibraryDirectories() : null);
    }

    /// <summary>
    /// Loads a project-built library from <paramref name="directories"/> only (not cached), or throws the error
    /// <see cref="Require"/> throws. The resolver uses it with <see cref="ProjectLibraryDirectories"/>; tests use it to
    /// check what a user sees when the library is missing.
    /// </summary>
    internal static IntPtr LoadProjectLibrary(string logicalName, IEnumerable<string> directories)
    {
        var dirs = directories.ToList();
        var handle = TryLoadFrom(logicalName, dirs, out _);
        return handle != IntPtr.Zero ? handle : throw MissingLibrary(logicalName, dirs);
    }

    private static QuantNativeException MissingLibrary(string logicalName, IEnumerable<string>? directories)
    {
        var (candidates, hint) = Known[logicalName];
        string where = (directories == null ? "" : $" in {string.Join(", ", directories)}") +
                       (IsHidden(logicalName) ? $"; hidden by ${HideVariable}" : "");
        return new QuantNativeException(
            $"cannot load {logicalName} (tried {string.Join(", ", candidates)}{where}): {hint}");
    }

    /// <summary>
    /// The libraries named in $QN_HIDE_LIBRARIES (comma-separated logical names: openblas, lapacke, cuda, cublas,
    /// cusolver, qn_emulator) are treated as absent: how a test, or a user checking `qn doctor`, sees what a machine
    /// without them sees, without uninstalling anything.
    /// </summary>
    public const string HideVariable = "QN_HIDE_LIBRARIES";

    private static bool IsHidden(string logicalName) =>
        (Environment.GetEnvironmentVariable(HideVariable) ?? "").Split(',', StringSplitOptions.TrimEntries)
        .Contains(logicalName, StringComparer.OrdinalIgnoreCase);

    /// <summary>The file a loaded library came from (the candidate name that loaded, or the path of a project
    /// library), or null when it is not loaded.</summary>
    public static string? LoadedFrom(string logicalName)
    {
        if (TryLoad(logicalName) == IntPtr.Zero) return null;
        lock (Gate) return LoadedNames.GetValueOrDefault(logicalName);
    }

    /// <summary>The names a library is tried under, and what to do when none loads.</summary>
    public static (IReadOnlyList<string> Candidates, string Hint) Describe(string logicalName) => Known[logicalName];

    /// <summary>Whether a library can be loaded (for optional paths such as the GPU).</summary>
    public static bool IsAvailable(string logicalName) => TryLoad(logicalName) != IntPtr.Zero;

    /// <summary>The directories searched for project-built libraries, in order.</summary>
    public static IEnumerable<string> ProjectLibraryDirectories()
    {
        yield return AppContext.BaseDirectory;
        var env = Environment.GetEnvironmentVariable("QN_NATIVE_DIR");
        if (!string.IsNullOrEmpty(env)) yield return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "QuantNative.sln")))
            {
                yield return Path.Combine(dir.FullName, "artifacts", "native");
                yield break;
            }
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        Known.ContainsKey(libraryName) ? TryLoad(libraryName) : IntPtr.Zero;

    private static IntPtr TryLoad(string logicalName)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(logicalName, out var cached)) return cached;
            var handle = IntPtr.Zero;
            if (IsHidden(logicalName))
            {
                // treated as absent ($QN_HIDE_LIBRARIES)
            }
            else if (ProjectLibraries.Contains(logicalName))
            {
                handle = TryLoadFrom(logicalName, ProjectLibraryDirectories(), out var path);
                if (path != null) LoadedNames[logicalName] = path;
            }
            else
            {
                PreloadBundle();
                foreach (var candidate in SystemCandidates(logicalName, AppContext.BaseDirectory,
                             Environment.GetEnvironmentVariable("CUDA_HOME"), File.Exists))
                    if (NativeLibrary.TryLoad(candidate, out handle))
                    {
                        LoadedNames[logicalName] = candidate;
                        break;
                    }
            }
            Loaded[logicalName] = handle;
            return handle;
        }
    }

    /// <summary>The file next to the executable that lists the bundled libraries, dependencies first.</summary>
    public const string BundleManifest = "bundled-libraries.txt";

    private static readonly string[] CudaToolkitLibraries = [Cuda, Cublas, Cusolver];

    /// <summary>
    /// What is tried for a system library, in order: for each versioned name (newest first), the file next to the
    /// executable (<paramref name="baseDirectory"/>), the bare name (the system's search), and for the CUDA libraries
    /// the file in $CUDA_HOME/lib64 and /usr/local/cuda/lib64 (and their targets/x86_64-linux/lib). Full paths appear
    /// only for files that exist, so the list says where a library will come from.
    /// </summary>
    internal static List<string> SystemCandidates(string logicalName, string baseDirectory, string? cudaHome,
        Func<string, bool> fileExists)
    {
        var toolkitDirs = new List<string>();
        if (CudaToolkitLibraries.Contains(logicalName))
            foreach (var home in new[] { cudaHome, "/usr/local/cuda" })
                if (!string.IsNullOrEmpty(home))
                {
                    toolkitDirs.Add(Path.Combine(home, "lib64"));
                    toolkitDirs.Add(Path.Combine(home, "targets", "x86_64-linux", "lib"));
                }
        var list = new List<string>();
        foreach (var name in Known[logicalName].Candidates)
        {
            var beside = Path.Combine(baseDirectory, name);
            if (fileExists(beside)) list.Add(beside);
            list.Add(name);
            foreach (var dir in toolkitDirs)
            {
                var path = Path.Combine(dir, name);
                if (fileExists(path) && !list.Contains(path)) list.Add(path);
            }
        }
        return list;
    }

    private static bool _bundlePreloaded;

    /// <summary>
    /// Loads the libraries of the bundle's manifest by full path, in its order (dependencies first): a library's
    /// DT_NEEDED entries are then satisfied by the already-loaded objects of the same soname, so libopenblas finds the
    /// bundled libgfortran without an rpath. A missing or unloadable entry is left to the normal search.
    /// </summary>
    private static void PreloadBundle()
    {
        if (_bundlePreloaded) return;
        _bundlePreloaded = true;
        var manifest = Path.Combine(AppContext.BaseDirectory, BundleManifest);
        if (!File.Exists(manifest)) return;
        foreach (var line in File.ReadAllLines(manifest))
        {
            var name = line.Trim();
            if (name.Length == 0 || name.StartsWith('#')) continue;
            NativeLibrary.TryLoad(Path.Combine(AppContext.BaseDirectory, name), out _);
        }
    }

    private static IntPtr TryLoadFrom(string logicalName, IEnumerable<string> directories, out string? loadedPath)
    {
        foreach (var dir in directories)
        {
            foreach (var name in Known[logicalName].Candidates)
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle))
                {
                    loadedPath = path;
                    return handle;
                }
            }
        }
        loadedPath = null;
        return IntPtr.Zero;
    }
}
