using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>
/// The C ABI of the CUDA emulator, libqn_emulator.so (native/emulator/qn_emulator_abi.h), with the C names
/// verbatim, plus <see cref="Check"/> and a few helpers. The emulator runs the project's kernels/*.cu on the CPU;
/// host memory stands in for device memory, and a launch takes the same <c>void**</c> argument array as
/// <c>cuLaunchKernel</c> (element i points to the value of parameter i) plus the byte size of each argument, which
/// the emulator checks against the kernel's parameter list. Launches are synchronous.
/// </summary>
public static unsafe partial class Emulator
{
    public const int QN_EMU_SUCCESS = 0;
    public const int QN_EMU_ERROR_INVALID_VALUE = 1;
    public const int QN_EMU_ERROR_NOT_FOUND = 2;
    public const int QN_EMU_ERROR_LAUNCH_FAILED = 3;

    [LibraryImport(NativeLibraries.Emulator, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int qn_emu_launch_kernel(string kernel, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedMemBytes, void** kernelParams, int paramCount,
        uint* paramSizes);

    /// <summary>The calling thread's last error; valid until that thread's next call (copy it at once).</summary>
    [LibraryImport(NativeLibraries.Emulator)]
    public static partial byte* qn_emu_get_last_error();

    [LibraryImport(NativeLibraries.Emulator)]
    public static partial int qn_emu_kernel_count();

    /// <summary>A pointer owned by the emulator (never freed by the caller), or null outside 0..count-1.</summary>
    [LibraryImport(NativeLibraries.Emulator)]
    public static partial byte* qn_emu_kernel_name(int index);

    [LibraryImport(NativeLibraries.Emulator, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int qn_emu_kernel_params(string kernel, int* count, uint* sizes, int capacity);

    [LibraryImport(NativeLibraries.Emulator, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int qn_emu_set_max_dynamic_shared(string kernel, uint bytes);

    [LibraryImport(NativeLibraries.Emulator, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int qn_emu_set_option(string name, long value);

    [LibraryImport(NativeLibraries.Emulator, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int qn_emu_get_option(string name, long* value);

    /// <summary>Throws an <see cref="EmulatorException"/> naming <paramref name="call"/> and the emulator's error
    /// string unless <paramref name="status"/> is <see cref="QN_EMU_SUCCESS"/>.</summary>
    public static void Check(int status, string call)
    {
        if (status == QN_EMU_SUCCESS) return;
        string message = Marshal.PtrToStringUTF8((IntPtr)qn_emu_get_last_error()) ?? "";
        throw new EmulatorException(call, status, message);
    }

    /// <summary>Loads libqn_emulator.so or throws a <see cref="QuantNativeException"/> saying where it was looked
    /// for and how to build it (the P/Invoke layer alone would throw a bare DllNotFoundException).</summary>
    public static void EnsureLoaded() => NativeLibraries.Require(NativeLibraries.Emulator);

    /// <summary>Launches <paramref name="kernel"/> and waits for it; throws on any error. <paramref name="paramSizes"/>
    /// holds the byte size of each of the <paramref name="paramCount"/> values <paramref name="kernelParams"/> points
    /// to: a count or a size that is not the kernel's throws an <see cref="EmulatorException"/> naming the kernel, the
    /// argument's index and both sizes.</summary>
    public static void Launch(string kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block,
        uint sharedMemBytes, void** kernelParams, int paramCount, uint* paramSizes)
    {
        EnsureLoaded();
        Check(qn_emu_launch_kernel(kernel, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedMemBytes,
            kernelParams, paramCount, paramSizes), $"qn_emu_launch_kernel({kernel})");
    }

    /// <summary>The registered kernels, sorted by name.</summary>
    public static IReadOnlyList<string> KernelNames()
    {
        EnsureLoaded();
        int count = qn_emu_kernel_count();
        var names = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            byte* name = qn_emu_kernel_name(i);
            if (name != null) names.Add(Marshal.PtrToStringUTF8((IntPtr)name)!);
        }
        return names;
    }

    /// <summary>The byte size of each parameter of <paramref name="kernel"/>, in order.</summary>
    public static uint[] KernelParameterSizes(string kernel)
    {
        EnsureLoaded();
        int count;
        Check(qn_emu_kernel_params(kernel, &count, null, 0), $"qn_emu_kernel_params({kernel})");
        var sizes = new uint[count];
        fixed (uint* p = sizes)
            Check(qn_emu_kernel_params(kernel, &count, p, count), $"qn_emu_kernel_params({kernel})");
        return sizes;
    }

    public static void SetMaxDynamicShared(string kernel, uint bytes)
    {
        EnsureLoaded();
        Check(qn_emu_set_max_dynamic_shared(kernel, bytes), $"qn_emu_set_max_dynamic_shared({kernel}, {bytes})");
    }

    /// <summary>Sets an emulator option: "host_threads" (0 = default, 1 = deterministic block order),
    /// "ucontext" (0/1), "stack_kb".</summary>
    public static void SetOption(string name, long value)
    {
        EnsureLoaded();
        Check(qn_emu_set_option(name, value), $"qn_emu_set_option({name}, {value})");
    }

    public static long GetOption(string name)
    {
        EnsureLoaded();
        long value;
        Check(qn_emu_get_option(name, &value), $"qn_emu_get_option({name})");
        return value;
    }
}

/// <summary>A failed call into the CUDA emulator: which call, its status and the emulator's error string.</summary>
public sealed class EmulatorException(string call, int status, string error)
    : QuantNativeException($"{call} failed ({StatusName(status)}): {error}")
{
    public string Call { get; } = call;
    public int Status { get; } = status;
    public string Error { get; } = error;

    private static string StatusName(int status) => status switch
    {
        Emulator.QN_EMU_ERROR_INVALID_VALUE => "QN_EMU_ERROR_INVALID_VALUE",
        Emulator.QN_EMU_ERROR_NOT_FOUND => "QN_EMU_ERROR_NOT_FOUND",
        Emulator.QN_EMU_ERROR_LAUNCH_FAILED => "QN_EMU_ERROR_LAUNCH_FAILED",
        _ => $"status {status}",
    };
}
