using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Inference;
using QuantNative.Inference.Device;

namespace QuantNative.Cli;

/// <summary>
/// The decode engine of --device for generate, eval and bench decode: the CPU engine, or the model uploaded to a GPU
/// (cuda) or the emulator (emulate) and run there by <see cref="DeviceInferenceSession"/>s. The runtime is opened
/// first (<see cref="OpenRuntime"/>: no GPU is one clean line before anything is loaded), the engine once the model is.
/// </summary>
public sealed class DecodeDevice : IDisposable
{
    private DecodeDevice(ICudaRuntime? runtime) => Runtime = runtime;

    public ICudaRuntime? Runtime { get; }

    /// <summary>Null for cpu.</summary>
    public IDecodeEngine? Engine { get; private set; }

    public static DecodeDevice OpenRuntime(DeviceKind kind) => new(kind switch
    {
        DeviceKind.Cuda => DriverCudaRuntime.Create(),
        DeviceKind.Emulate => new EmulatedCudaRuntime(),
        _ => null,
    });

    /// <summary>Uploads <paramref name="model"/> to the device (nothing for cpu); returns the engine to run.</summary>
    public IDecodeEngine Load(InferenceModel model)
    {
        if (Runtime == null) return new CpuDecodeEngine(model);
        Engine = new DeviceDecodeEngine(new DeviceModel(Runtime, model));
        return Engine;
    }

    public void Dispose()
    {
        Engine?.Dispose();
        Runtime?.Dispose();
    }
}
