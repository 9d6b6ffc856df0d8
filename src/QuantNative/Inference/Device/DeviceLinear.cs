using QuantNative.Cpu.Weights;
using QuantNative.Cuda;
using QuantNative.Inference.LowBit;

namespace QuantNative.Inference.Device;

/// <summary>The session's scratch a linear may use: fp16 activations for the low-bit kernel, a float32 product to be
/// added to the residual.</summary>
internal sealed class LinearScratch(DeviceBuffer half, DeviceBuffer product)
{
    public DeviceBuffer Half { get; } = half;
    public DeviceBuffer Product { get; } = product;
}

/// <summary>One linear of the model on the device: y [tokens, out] (+)= x [tokens, in] · Wᵀ, float32 x and y.</summary>
internal interface IDeviceLinear : IDisposable
{
    int OutFeatures { get; }
    int InFeatures { get; }

    /// <summary>How it runs, for the placement summary ("low-bit W4 g32 kernel", "cuBLAS Sgemm, float32 weights").</summary>
    string Kind { get; }

    /// <summary>Bytes of weights one product reads.</summary>
    long WeightBytes { get; }

    void Forward(DeviceOps ops, DevicePtr y, DevicePtr x, int tokens, bool accumulate, LinearScratch scratch);
}

/// <summary>
/// A dense linear through cuBLAS Sgemm on float32 weights uploaded once. Float32 because the CPU engine multiplies
/// float32 weights (fp32 arrays, or BF16/F16 widened exactly) with float32 activations: the same values on both
/// sides, so the greedy tokens can be equal; fp16 would round BF16's 8-bit exponent range and every activation.
/// </summary>
internal sealed class DenseDeviceLinear : IDeviceLinear
{
    private readonly ICudaRuntime _runtime;
    private readonly bool _owns;

    private DenseDeviceLinear(ICudaRuntime runtime, DevicePtr weights, int outFeatures, int inFeatures, bool owns, string kind)
        => (_runtime, Weights, OutFeatures, InFeatures, _owns, Kind) = (runtime, weights, outFeatures, inFeatures, owns, kind);

    public DevicePtr Weights { get; }
    public int OutFeatures { get; }
    public int InFeatures { get; }
    public string Kind { get; }
    public long WeightBytes => (long)OutFeatures * InFeatures * sizeof(float);

    /// <summary>Uploads <paramref name="linear"/>'s weights widened to float32, a slice of rows at a time (no float32
    /// copy of the whole tensor on the host for mapped tensors).</summary>
    public static DenseDeviceLinear Upload(ICudaRuntime runtime, ILinearWeights linear, string kind)
    {
        int n = linear.OutFeatures, k = linear.InFeatures;
        var weights = runtime.Allocate(Math.Max(1, (long)n * k * sizeof(float)));
        try
        {
            UploadRows(runtime, weights, n, k, RowReader(linear));
        }
        catch
        {
            runtime.Free(weights);
            throw;
        }
        return new DenseDeviceLinear(runtime, weights, n, k, owns: true, kind);
    }

    /// <summary>A linear over float32 weights already on the device (a head tied to the embedding), not freed here.</summary>
    public static DenseDeviceLinear Shared(ICudaRuntime runtime, DevicePtr weights, int outFeatures, int inFeatures, string kind)
        => new(runtime, weights, outFeatures, inFeatures, owns: false, kind);

    /// <summary>Copies rows [n, k] produced by <paramref name="read"/>(first, count, destination) to the device.</summary>
    public static unsafe void UploadRows(ICudaRuntime runtime, DevicePtr target, int n, int k,
        Action<int, int, Span<float>> read)
    {
        int rowsPerSlice = Math.Max(1, (1 << 20) / Math.Max(k, 1));
        var slice = new float[(long)Math.Min(rowsPerSlice, n) * k];
        for (int first = 0; first < n; first += rowsPerSlice)
        {
            int count = Math.Min(rowsPerSlice, n - first);
            var span = slice.AsSpan(0, count * k);
            read(first, count, span);
            fixed (float* p = span)
                runtime.CopyHostToDevice(target.Offset((long)first * k * sizeof(float)), p, (long)span.Length * sizeof(float));
        }
    }

    private static Action<int, int, Span<float>> RowReader(ILinearWeights linear)
    {
        int k = linear.InFeatures;
        switch (linear)
        {
            case ArrayLinear a:
                return (first, count, dst) => a.Weight.AsSpan(first * k, count * k).CopyTo(dst);
            case MappedLinear m:
                return (first, count, dst) => m.Tensor.ReadRows(first, count, dst);
            case LowBitCpuLinear l:
                // Only for shapes the low-bit kernel refuses: the exactly dequantized Ŵ the CPU engine multiplies too.
                var w = l.Weights.Dequantize();
                return (first, count, dst) => w.AsSpan(first * k, count * k).CopyTo(dst);
            default:
                throw new QuantNativeException(
                    $"{linear.Name}: the device decode path cannot upload weights held as {linear.GetType().Name}");
        }
    }

    public void Forward(DeviceOps ops, DevicePtr y, DevicePtr x, int tokens, bool accumulate, LinearScratch scratch) =>
        ops.Linear(y, x, Weights, tokens, OutFeatures, InFeatures, accumulate);

    public void Dispose()
    {
        if (_owns) _runtime.Free(Weights);
    }
}

/// <summary>
/// A W2/W3/W4 linear on the low-bit kernels (<see cref="LowBitDeviceLinear"/>: the GEMV for up to 8 tokens, the
/// tensor-core GEMM above), reading the repacked layout the CPU engine reads. The kernels take fp16 activations: x is
/// rounded on the device first (kernels/infer/convert.cu); a residual product goes to scratch and is added.
/// </summary>
internal sealed class LowBitBlockLinear(LowBitDeviceLinear linear) : IDeviceLinear
{
    public int OutFeatures => linear.Weights.N;
    public int InFeatures => linear.Weights.K;
    public string Kind => $"low-bit W{linear.Weights.Bits} kernel";
    public long WeightBytes => (linear.Weights.QWeight.LongLength + linear.Weights.ScaleZero.LongLength) * sizeof(uint);

    public void Forward(DeviceOps ops, DevicePtr y, DevicePtr x, int tokens, bool accumulate, LinearScratch scratch)
    {
        long inputs = (long)tokens * InFeatures, outputs = (long)tokens * OutFeatures;
        var half = scratch.Half.Ensure(inputs * sizeof(ushort));
        ops.ToHalf(half, x, inputs);
        if (!accumulate)
        {
            linear.Forward(y, half, tokens, LowBitOutput.Float32);
            return;
        }
        var product = scratch.Product.Ensure(outputs * sizeof(float));
        linear.Forward(product, half, tokens, LowBitOutput.Float32);
        ops.Add(y, product, outputs);
    }

    public void Dispose() => linear.Dispose();
}
