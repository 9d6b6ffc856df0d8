using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Inference;
using QuantNative.Inference.Device;
using QuantNative.Inference.LowBit;

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

    /// <summary>
    /// --decode-activations: on the CPU, the low-bit decode GEMV's activations (int8 by default, or fp32), set on the
    /// model; on a device the low-bit kernels take fp16 activations, so the option is refused there. Returns the
    /// activations the low-bit decode runs on ("int8", "float32", "float16").
    /// </summary>
    public string DecodeActivations(InferenceModel model, string? option)
    {
        if (Runtime == null)
        {
            var activations = DecodeActivationsOption.Parse(option, "--decode-activations");
            model.WithDecodeActivations(activations);
            return activations.ToString().ToLowerInvariant();
        }
        if (option != null)
            throw new QuantNativeException("--decode-activations chooses the CPU engine's low-bit decode GEMV; with --device " +
                                           "cuda or emulate the low-bit kernels take fp16 activations (leave the option out)");
        return "float16";
    }

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
