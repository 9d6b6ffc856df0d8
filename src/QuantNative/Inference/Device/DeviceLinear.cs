using QuantNative.Cpu.Weights;
using QuantNative.Cuda;
using QuantNative.Formats;
using QuantNative.Inference.LowBit;

namespace QuantNative.Inference.Device;

/// <summary>The session's scratch a linear may use: fp16 activations for the low-bit kernel, a float32 product to be
/// added to the residual, a slice of 16-bit weights widened to float32.</summary>
internal sealed class LinearScratch(DeviceBuffer half, DeviceBuffer product, DeviceBuffer wide)
{
    public DeviceBuffer Half { get; } = half;
    public DeviceBuffer Product { get; } = product;
    public DeviceBuffer Wide { get; } = wide;
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
/// A dense linear on weights uploaded once, in the dtype the checkpoint stores them: BF16/F16 tensors keep their 2
/// bytes per weight (the dense GEMV of kernels/infer/dense16.cu for up to 8 tokens; for more, slices of rows widened
/// to float32 into scratch and multiplied by cuBLAS Sgemm), float32 ones (and dequantized low-bit layers the kernels
/// refuse) go through Sgemm. Activations and sums stay float32 and BF16/F16 → float32 is exact, so the device
/// multiplies the values the CPU engine multiplies (MappedLinear reads the same BF16 rows): the greedy tokens can be
/// equal, which fp16 activations or an fp16 head would not allow (the synthetic families' top two logits differ by as
/// little as 0.0013).
/// </summary>
internal sealed class DenseDeviceLinear : IDeviceLinear
{
    private readonly ICudaRuntime _runtime;
    private readonly bool _owns;

    private DenseDeviceLinear(ICudaRuntime runtime, DevicePtr weights, FloatDType storage, int outFeatures,
        int inFeatures, bool owns, string kind)
        => (_runtime, Weights, Storage, OutFeatures, InFeatures, _owns, Kind) =
            (runtime, weights, storage, outFeatures, inFeatures, owns, kind);

    public DevicePtr Weights { get; }

    /// <summary>How the weights are held on the device: F32, or BF16/F16 as stored.</summary>
    public FloatDType Storage { get; }

    public int OutFeatures { get; }
    public int InFeatures { get; }
    public string Kind { get; }
    public long WeightBytes => (long)OutFeatures * InFeatures * Storage.ByteSize();

    /// <summary>How a dense linear of <paramref name="storage"/> runs, for the placement summary.</summary>
    public static string KindOf(FloatDType storage, string what = "weights") => storage == FloatDType.F32
        ? $"cuBLAS Sgemm, float32 {what}"
        : $"{storage} {what} as stored (dense GEMV up to {InferLaunch.Dense16MaxTokens} tokens, widened slices through cuBLAS Sgemm above)";

    /// <summary>The dtype <paramref name="linear"/> keeps on the device: its stored BF16/F16, else float32.</summary>
    public static FloatDType StorageOf(ILinearWeights linear) => StorageOf((linear as MappedLinear)?.Tensor);

    /// <summary>The dtype a mapped tensor keeps on the device: its BF16/F16, else (float32 or not mapped) float32.</summary>
    public static FloatDType StorageOf(MappedTensor? tensor) =>
        tensor is { DType: FloatDType.BF16 or FloatDType.F16 } ? tensor.DType : FloatDType.F32;

    /// <summary>Uploads <paramref name="linear"/>'s weights in <see cref="StorageOf"/>, a slice of rows at a time (no
    /// float32 copy of the whole tensor on the host for mapped tensors).</summary>
    public static DenseDeviceLinear Upload(ICudaRuntime runtime, ILinearWeights linear, string? kind = null)
    {
        int n = linear.OutFeatures, k = linear.InFeatures;
        var storage = StorageOf(linear);
        var weights = runtime.Allocate(Math.Max(1, (long)n * k * storage.ByteSize()));
        try
        {
            if (storage == FloatDType.F32) UploadRows(runtime, weights, n, k, RowReader(linear));
            else UploadStored(runtime, weights, ((MappedLinear)linear).Tensor);
        }
        catch
        {
            runtime.Free(weights);
            throw;
        }
        return new DenseDeviceLinear(runtime, weights, storage, n, k, owns: true, kind ?? KindOf(storage));
    }

    /// <summary>A linear over weights already on the device (a head tied to the embedding), not freed here.</summary>
    public static DenseDeviceLinear Shared(ICudaRuntime runtime, DevicePtr weights, FloatDType storage, int outFeatures,
        int inFeatures, string kind)
        => new(runtime, weights, storage, outFeatures, inFeatures, owns: false, kind);

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

    /// <summary>Copies a mapped tensor's stored bytes to the device, ≤ 4 MiB of rows at a time (straight from the
    /// mapping: no host copy).</summary>
    public static unsafe void UploadStored(ICudaRuntime runtime, DevicePtr target, MappedTensor tensor)
    {
        long rowBytes = tensor.Columns * tensor.DType.ByteSize();
        int rowsPerSlice = (int)Math.Max(1, (4L << 20) / Math.Max(rowBytes, 1));
        for (long first = 0; first < tensor.Rows; first += rowsPerSlice)
        {
            int count = (int)Math.Min(rowsPerSlice, tensor.Rows - first);
            var bytes = tensor.RowBytes(first, count);
            fixed (byte* p = bytes) runtime.CopyHostToDevice(target.Offset(first * rowBytes), p, bytes.Length);
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

    public void Forward(DeviceOps ops, DevicePtr y, DevicePtr x, int tokens, bool accumulate, LinearScratch scratch)
    {
        int n = OutFeatures, k = InFeatures;
        if (Storage == FloatDType.F32)
            ops.Linear(y, x, Weights, tokens, n, k, accumulate);
        else if (tokens <= InferLaunch.Dense16MaxTokens)
            ops.Dense16Gemv(y, x, Weights, Storage, tokens, n, k, accumulate);
        else
        {
            // Prefill: compute-bound, so widening a slice (one read, one write) costs little beside its product.
            int rowsPerSlice = Math.Max(1, Math.Min(n, InferLaunch.WidenSliceWeights / Math.Max(k, 1)));
            var wide = scratch.Wide.Ensure((long)rowsPerSlice * k * sizeof(float));
            long rowBytes = (long)k * Storage.ByteSize();
            for (int first = 0; first < n; first += rowsPerSlice)
            {
                int count = Math.Min(rowsPerSlice, n - first);
                ops.Widen(wide, Weights.Offset(first * rowBytes), Storage, (long)count * k);
                ops.LinearRows(y, x, wide, tokens, n, k, first, count, accumulate);
            }
        }
    }

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
