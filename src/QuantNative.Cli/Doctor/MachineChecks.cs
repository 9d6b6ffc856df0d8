using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using QuantNative.Cli.Builtin;
using QuantNative.Cuda;
using QuantNative.Interop;

namespace QuantNative.Cli.Doctor;

/// <summary>One line of `qn doctor`: what was checked, ok or not (and how it is not: missing, low), what was found,
/// and the command that fixes it. <see cref="Required"/> lines are what the CPU engine needs; the rest only some
/// options (--device emulate, --device cuda).</summary>
public sealed record MachineCheck(string Name, string Status, string Detail, string? Fix = null, bool Required = false)
{
    public bool Ok => Status == "ok";
}

/// <summary>
/// What this machine has for qn, each probed the way qn itself would load or use it: the native libraries through
/// <see cref="NativeLibraries"/> (so $QN_HIDE_LIBRARIES hides them here too), the fatbins where the CUDA runtime looks
/// for them, the driver through cuInit. Nothing here throws for a missing piece: it becomes a line.
/// </summary>
public static class MachineChecks
{
    public const string Ok = "ok", Missing = "missing", Low = "low";

    public static IReadOnlyList<MachineCheck> Run() =>
    [
        OpenBlasCheck(), LapackeCheck(), CpuCheck(), BuiltinCheck(), EmulatorCheck(), FatbinCheck(),
        .. CudaChecks(), CublasCheck(), CusolverCheck(), MemoryCheck(), DiskCheck(),
    ];

    /// <summary>One line for `qn --version` and the end of `qn doctor`: every check's name and status.</summary>
    public static string Summary(IReadOnlyList<MachineCheck> checks) =>
        string.Join(", ", checks.Select(c => $"{c.Name} {c.Status}"));

    private static string NotFound(string logical) =>
        $"not found (tried {string.Join(", ", NativeLibraries.Describe(logical).Candidates)})" +
        (Environment.GetEnvironmentVariable(NativeLibraries.HideVariable) is { Length: > 0 } hidden
            ? $"; ${NativeLibraries.HideVariable}={hidden}" : "");

    private static MachineCheck OpenBlasCheck()
    {
        const string fix = "sudo apt-get install libopenblas0-pthread (./build.sh does this)";
        if (NativeLibraries.LoadedFrom(NativeLibraries.OpenBlas) is not { } file)
            return new("openblas", Missing, NotFound(NativeLibraries.OpenBlas), fix, Required: true);
        string config = Marshal.PtrToStringAnsi(OpenBlas.openblas_get_config())?.Trim() ?? "";
        string core = Marshal.PtrToStringAnsi(OpenBlas.openblas_get_corename()) ?? "?";
        return new("openblas", Ok, $"{config} ({file}), {OpenBlas.openblas_get_num_threads()} threads, kernel {core}",
            Required: true);
    }

    private static MachineCheck LapackeCheck() =>
        NativeLibraries.LoadedFrom(NativeLibraries.Lapacke) is { } file
            ? new("lapacke", Ok, $"{file} (sgesdd for the SVD of SDE, dpotrf/dpotri for GPTQ)", Required: true)
            : new("lapacke", Missing, NotFound(NativeLibraries.Lapacke),
                "sudo apt-get install liblapacke (./build.sh does this)", Required: true);

    private static MachineCheck CpuCheck()
    {
        var flags = CpuFlags();
        string Has(string flag) => flags == null ? "?" : flags.Contains(flag) ? "yes" : "no";
        string detail = $"{Environment.ProcessorCount} cores; AVX2 {Has("avx2")}, AVX-512 {Has("avx512f")}, " +
                        $"AVX512_BF16 {Has("avx512_bf16")}, VNNI {(flags == null ? "?" : flags.Contains("avx512_vnni") || flags.Contains("avx_vnni") ? "yes" : "no")}; " +
                        $".NET vectors: {(Vector512.IsHardwareAccelerated ? "512" : Vector256.IsHardwareAccelerated ? "256" : "128")}-bit";
        bool avx2 = flags?.Contains("avx2") ?? Vector256.IsHardwareAccelerated;
        return avx2
            ? new("cpu", Ok, detail)
            : new("cpu", Missing, detail + " (no AVX2: the CPU engine runs its 128-bit paths, several times slower)",
                "none: a CPU feature (qn still runs)");
    }

    /// <summary>The flags line of /proc/cpuinfo (Linux), or null where there is none.</summary>
    private static HashSet<string>? CpuFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return line == null ? null : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static MachineCheck BuiltinCheck()
    {
        try
        {
            return new("builtin", Ok, $"{BuiltinModel.Name} and its TinyStories slices, in {Path.GetDirectoryName(BuiltinModel.ModelPath)}");
        }
        catch (QuantNativeException e)
        {
            return new("builtin", Missing, e.Message, "set XDG_CACHE_HOME to a writable folder");
        }
    }

    private static MachineCheck EmulatorCheck() =>
        NativeLibraries.LoadedFrom(NativeLibraries.Emulator) is { } path
            ? new("emulator", Ok, $"{path} ({Emulator.qn_emu_kernel_count()} kernels; --device emulate)")
            : new("emulator", Missing, NotFound(NativeLibraries.Emulator) + " (only --device emulate needs it)", "./build.sh");

    private static MachineCheck FatbinCheck()
    {
        var found = new List<string>();
        var errors = new List<string>();
        foreach (var dir in FatbinLocator.Directories().Where(Directory.Exists))
        {
            foreach (var file in Directory.GetFiles(dir, "*.fatbin").Order())
            {
                try { found.Add($"{Path.GetFileNameWithoutExtension(file)} [{string.Join(", ", FatbinContents.Architectures(file))}]"); }
                catch (QuantNativeException e) { errors.Add(e.Message); }
            }
            if (found.Count > 0) return new("fatbins", errors.Count == 0 ? Ok : Missing,
                $"{dir}: {string.Join("; ", found.Concat(errors))}", errors.Count == 0 ? null : "./build.sh --cuda");
        }
        return new("fatbins", Missing, $"none in {string.Join(", ", FatbinLocator.Directories())} (only --device cuda needs them)",
            "./build.sh --cuda");
    }

    private static unsafe List<MachineCheck> CudaChecks()
    {
        const string driverFix = "install the NVIDIA driver (Debian: sudo apt-get install nvidia-driver) on a machine with an NVIDIA GPU; without one use --device cpu or emulate";
        if (NativeLibraries.LoadedFrom(NativeLibraries.Cuda) is not { } file)
            return [new("cuda driver", Missing, NotFound(NativeLibraries.Cuda) + " (only --device cuda needs it)", driverFix),
                    new("gpu", Missing, "no CUDA driver", driverFix)];
        int version = 0, count = 0;
        int status = CudaDriver.cuInit(0);
        CudaDriver.cuDriverGetVersion(&version);
        var driver = new MachineCheck("cuda driver", Ok, $"{file}, CUDA {version / 1000}.{version % 1000 / 10}");
        if (status == CudaDriver.CUDA_SUCCESS) CudaDriver.cuDeviceGetCount(&count);
        if (count == 0)
        {
            string why = status == CudaDriver.CUDA_SUCCESS ? "no devices" : $"cuInit: {CudaDriver.ErrorName(status)} ({CudaDriver.ErrorString(status)})";
            return [driver, new("gpu", Missing, why, "none here: use --device cpu or --device emulate (a GPU machine runs --device cuda)")];
        }
        var devices = new List<string>();
        byte* name = stackalloc byte[256];
        for (int d = 0; d < count; d++)
        {
            int major = 0, minor = 0;
            nuint bytes = 0;
            CudaDriver.cuDeviceGetName(name, 256, d);
            CudaDriver.cuDeviceGetAttribute(&major, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d);
            CudaDriver.cuDeviceGetAttribute(&minor, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d);
            CudaDriver.cuDeviceTotalMem_v2(&bytes, d);
            devices.Add($"{d}: {Marshal.PtrToStringUTF8((IntPtr)name)}, compute capability {major}.{minor}, {Gib((long)bytes)}");
        }
        return [driver, new("gpu", Ok, string.Join("; ", devices))];
    }

    private static unsafe MachineCheck CublasCheck() => CudaLibraryCheck("cublas", NativeLibraries.Cublas,
        "sudo apt-get install libcublas11 (Debian's CUDA 11; or the CUDA toolkit's cuBLAS 12/13)",
        (type, value) => Cublas.cublasGetProperty(type, value));

    private static unsafe MachineCheck CusolverCheck() => CudaLibraryCheck("cusolver", NativeLibraries.Cusolver,
        "sudo apt-get install libcusolver11 (Debian's CUDA 11; or the CUDA toolkit's cuSOLVER 12/13)",
        (type, value) => Cusolver.cusolverGetProperty(type, value));

    private unsafe delegate int GetProperty(int type, int* value);

    /// <summary>A CUDA library: found or not, and its version from its getProperty call (libraryPropertyType
    /// MAJOR_VERSION 0, MINOR_VERSION 1, PATCH_LEVEL 2).</summary>
    private static unsafe MachineCheck CudaLibraryCheck(string name, string logical, string fix, GetProperty get)
    {
        if (NativeLibraries.LoadedFrom(logical) is not { } file)
            return new(name, Missing, NotFound(logical) + " (only --device cuda needs it)", fix);
        int major = 0, minor = 0, patch = 0;
        get(0, &major);
        get(1, &minor);
        get(2, &patch);
        return new(name, Ok, $"{file}, version {major}.{minor}.{patch}");
    }

    private static MachineCheck MemoryCheck()
    {
        long total = 0, available = -1;
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal)) total = Kilobytes(line);
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)) available = Kilobytes(line);
            }
        }
        catch (IOException) { }
        if (available < 0) available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        string detail = $"{Gib(available)} available" + (total > 0 ? $" of {Gib(total)}" : "") +
                        " (stories260K needs a few MB; a 7B model's quantization about 10 GiB)";
        return available >= 1L << 30
            ? new("memory", Ok, detail)
            : new("memory", Low, detail, "close other programs, or run on a machine with more memory");
    }

    private static long Kilobytes(string meminfoLine) =>
        long.Parse(meminfoLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;

    private static MachineCheck DiskCheck()
    {
        string here = Directory.GetCurrentDirectory();
        long free = new DriveInfo(here).AvailableFreeSpace;
        string detail = $"{Gib(free)} free in {here}";
        return free >= 1L << 30
            ? new("disk", Ok, detail)
            : new("disk", Low, detail, "free some space, or write outputs elsewhere (--out on another disk)");
    }

    private static string Gib(long bytes) => $"{bytes / (1024.0 * 1024 * 1024):F1} GiB";

    /// <summary>The report: one line per check (status, name, what was found, and the fix of what is not ok), then
    /// the summary.</summary>
    public static string Format(IReadOnlyList<MachineCheck> checks)
    {
        var s = new StringBuilder();
        foreach (var c in checks)
        {
            s.AppendLine($"{c.Status,-8} {c.Name,-12} {c.Detail}");
            if (c.Fix != null) s.AppendLine($"{"",-8} {"",-12} fix: {c.Fix}");
        }
        return s.ToString();
    }
}
