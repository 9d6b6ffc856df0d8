using QuantNative.Cuda;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>An <see cref="ICudaRuntime"/> that forwards everything to another one and records the names of the
/// kernels launched, so a test can see which kernel a dispatch picked (and that it ran).</summary>
internal sealed class RecordingCudaRuntime(ICudaRuntime inner) : ForwardingCudaRuntime(inner)
{
    public List<string> Launched { get; } = [];

    public override void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args)
    {
        Launched.Add(kernel);
        base.Launch(kernel, grid, block, sharedMemBytes, args);
    }
}
