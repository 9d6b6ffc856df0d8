using System.Runtime.InteropServices;

namespace QuantNative.Interop;

/// <summary>
/// The CUDA driver API (libcuda.so.1 / nvcuda.dll), C names verbatim, the <c>_v2</c> entry points that cuda.h binds
/// the plain names to. Handles are IntPtr (CUcontext, CUmodule, CUfunction, CUstream, CUevent), device pointers are
/// ulong (CUdeviceptr), CUdevice is int, CUresult is int. Call <see cref="EnsureLoaded"/> first so a machine without
/// a driver gets a clear error, and pass every status through <see cref="Check"/>.
/// </summary>
public static unsafe partial class CudaDriver
{
    public const int CUDA_SUCCESS = 0;
    public const int CUDA_ERROR_NOT_INITIALIZED = 3;
    public const int CUDA_ERROR_STUB_LIBRARY = 34;
    public const int CUDA_ERROR_INSUFFICIENT_DRIVER = 35;
    public const int CUDA_ERROR_NO_DEVICE = 100;
    public const int CUDA_ERROR_FILE_NOT_FOUND = 301;
    public const int CUDA_ERROR_NOT_FOUND = 500;

    public const int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public const int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36;
    public const int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37;
    public const int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    public const uint CU_STREAM_NON_BLOCKING = 1;
    public const uint CU_EVENT_DEFAULT = 0;

    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuInit(uint flags);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDeviceGetCount(int* count);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDriverGetVersion(int* driverVersion);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDeviceTotalMem_v2(nuint* bytes, int dev);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDeviceGetName(byte* name, int len, int dev);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDeviceGetAttribute(int* pi, int attrib, int dev);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDevicePrimaryCtxRetain(IntPtr* pctx, int dev);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuDevicePrimaryCtxRelease_v2(int dev);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuCtxSetCurrent(IntPtr ctx);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuCtxSynchronize();
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemAlloc_v2(ulong* dptr, nuint bytesize);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemFree_v2(ulong dptr);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemcpyHtoD_v2(ulong dstDevice, void* srcHost, nuint byteCount);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemcpyDtoH_v2(void* dstHost, ulong srcDevice, nuint byteCount);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemcpyDtoD_v2(ulong dstDevice, ulong srcDevice, nuint byteCount);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemsetD8_v2(ulong dstDevice, byte uc, nuint n);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemcpyHtoDAsync_v2(ulong dstDevice, void* srcHost, nuint byteCount, IntPtr hStream);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemcpyDtoHAsync_v2(void* dstHost, ulong srcDevice, nuint byteCount, IntPtr hStream);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemcpyDtoDAsync_v2(ulong dstDevice, ulong srcDevice, nuint byteCount, IntPtr hStream);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuMemsetD8Async(ulong dstDevice, byte uc, nuint n, IntPtr hStream);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuModuleLoadData(IntPtr* module, void* image);
    [LibraryImport(NativeLibraries.Cuda, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(IntPtr* hfunc, IntPtr hmod, string name);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuModuleUnload(IntPtr hmod);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuLaunchKernel(IntPtr f, uint gridDimX, uint gridDimY, uint gridDimZ, uint blockDimX,
        uint blockDimY, uint blockDimZ, uint sharedMemBytes, IntPtr hStream, void** kernelParams, void** extra);

    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuStreamCreate(IntPtr* phStream, uint flags);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuStreamDestroy_v2(IntPtr hStream);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuStreamSynchronize(IntPtr hStream);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuEventCreate(IntPtr* phEvent, uint flags);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuEventRecord(IntPtr hEvent, IntPtr hStream);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuEventSynchronize(IntPtr hEvent);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuEventElapsedTime(float* pMilliseconds, IntPtr hStart, IntPtr hEnd);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuEventDestroy_v2(IntPtr hEvent);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuGetErrorName(int error, byte** pStr);
    [LibraryImport(NativeLibraries.Cuda)] public static partial int cuGetErrorString(int error, byte** pStr);

    /// <summary>Loads libcuda or throws a QuantNativeException saying no driver was found.</summary>
    public static void EnsureLoaded() => NativeLibraries.Require(NativeLibraries.Cuda);

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> and the driver's name and
    /// description of <paramref name="status"/> unless it is CUDA_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status == CUDA_SUCCESS) return;
        throw new CudaException(call, status, ErrorName(status), ErrorString(status));
    }

    public static string ErrorName(int status)
    {
        byte* s = null;
        return cuGetErrorName(status, &s) == CUDA_SUCCESS && s != null
            ? Marshal.PtrToStringUTF8((IntPtr)s) ?? $"CUresult {status}"
            : $"CUresult {status}";
    }

    public static string ErrorString(int status)
    {
        byte* s = null;
        return cuGetErrorString(status, &s) == CUDA_SUCCESS && s != null
            ? Marshal.PtrToStringUTF8((IntPtr)s) ?? "" : "unknown error";
    }
}

/// <summary>A failed CUDA driver, cuBLAS or cuSOLVER call: the call, its status, the status name and description.</summary>
public sealed class CudaException(string call, int status, string name, string description)
    : QuantNativeException($"{call} failed: {name} ({status}): {description}")
{
    public string Call { get; } = call;
    public int Status { get; } = status;
    public string StatusName { get; } = name;
}
