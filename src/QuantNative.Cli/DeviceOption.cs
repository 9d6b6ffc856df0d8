using QuantNative.Backends;

namespace QuantNative.Cli;

/// <summary>
/// `--device cpu|cuda|emulate` (default cpu), for the verbs that compute on a backend (IBackend) or a CUDA runtime:
/// `bench`, `eval`, `generate` (the decode path on the device: <see cref="DecodeDevice"/>) and `quantize` (the training
/// steps of omniquant, lsi and cqe+).
/// `--device cuda` on a machine without a GPU fails with one line ("no CUDA device: ...") and exit code 1.
/// </summary>
public interface IDeviceOption
{
    DeviceKind Device { get; }
}

public static class DeviceOption
{
    public const string HelpText =
        "Where to compute: cpu (C# engine), cuda (GPU: CUDA driver, kernels from the fatbins, cuBLAS/cuSOLVER) or " +
        "emulate (the CUDA backend on the CPU emulator).";

    public static IBackend Open(IDeviceOption options) => Cuda.Backend.Create(options.Device);
}
