using NUnit.Framework;
using QuantNative.Backends;
using QuantNative.Cuda;

namespace QuantNative.Tests;

/// <summary>
/// The one way tests reach a real GPU: GPU-only tests report "ignored: no CUDA device: …" where there is none (never
/// pass silently), and the tests of the no-device path report "ignored" where there is one.
/// </summary>
internal static class GpuDevice
{
    /// <summary>The driver runtime of the first GPU, or the test is ignored with the driver's reason.</summary>
    public static DriverCudaRuntime OpenOrIgnore()
    {
        try
        {
            return DriverCudaRuntime.Create();
        }
        catch (NoCudaDeviceException e)
        {
            Assert.Ignore(e.Message);
            throw; // not reached: Assert.Ignore throws
        }
    }

    /// <summary>The CUDA backend on the first GPU, or the test is ignored with the driver's reason.</summary>
    public static IBackend OpenBackendOrIgnore()
    {
        try
        {
            return Backend.Create(DeviceKind.Cuda);
        }
        catch (NoCudaDeviceException e)
        {
            Assert.Ignore(e.Message);
            throw;
        }
    }

    public static bool Present()
    {
        try
        {
            DriverCudaRuntime.Create().Dispose();
            return true;
        }
        catch (NoCudaDeviceException)
        {
            return false;
        }
    }

    /// <summary>For tests of the no-device path: ignored where a GPU makes that path unreachable.</summary>
    public static void IgnoreWherePresent()
    {
        if (Present()) Assert.Ignore("this machine has a CUDA device: the no-device path is not reachable here");
    }
}
