using QuantNative.Cpu.Weights;
using QuantNative.Cuda;
using QuantNative.Inference.LowBit;
using QuantNative.Model;

namespace QuantNative.Inference.Device;

/// <summary>One block's weights on the device: norms and extras float32 (null where the family has none), the seven
/// linears by <see cref="BlockLinears"/> part.</summary>
internal sealed record DeviceBlock(DevicePtr AttnNorm, DevicePtr FfnNorm, BlockExtras<DeviceVector> Extras,
    IReadOnlyDictionary<string, IDeviceLinear> Linears);

/// <summary>A float32 vector in device memory (a norm's γ, a bias).</summary>
internal sealed record DeviceVector(DevicePtr Ptr);

/// <summary>
/// An <see cref="InferenceModel"/> uploaded once to an <see cref="ICudaRuntime"/> (a GPU or the emulator) for
/// <see cref="DeviceInferenceSession"/>s, which share it: the embedding as a float32 table (the lookup kernel's
/// input; a head tied to it multiplies the same buffer), norms and biases float32, each block linear on the low-bit
/// kernels where the model holds it packed and the kernel takes its shape, else through cuBLAS Sgemm on float32
/// weights (dense tensors widened exactly; a low-bit layer whose shape the kernel refuses, e.g. stories260K's
/// down_proj with K = 172, as its exactly dequantized Ŵ — the values the CPU engine multiplies), and the head through
/// Sgemm in float32 (see <see cref="DenseDeviceLinear"/> for why float32). <see cref="Placement"/> says which ran where.
/// </summary>
public sealed class DeviceModel : IDisposable
{
    private readonly List<DevicePtr> _owned = new();
    private readonly List<IDeviceLinear> _linears = new();
    private bool _disposed;

    public DeviceModel(ICudaRuntime runtime, InferenceModel model)
    {
        Runtime = runtime;
        Model = model;
        Config = model.Config;
        try
        {
            Ops = new DeviceOps(runtime);
            var c = Config;
            Embedding = Own(runtime.Allocate((long)c.VocabSize * c.HiddenSize * sizeof(float)));
            DenseDeviceLinear.UploadRows(runtime, Embedding, c.VocabSize, c.HiddenSize, model.Embedding.ReadRows);
            var blocks = new DeviceBlock[c.NumLayers];
            for (int layer = 0; layer < c.NumLayers; layer++)
            {
                var b = model.Blocks[layer];
                var linears = new Dictionary<string, IDeviceLinear>();
                foreach (var l in BlockLinears.All)
                    linears[l.Part] = Track(UploadLinear(layer, l, b.Linear(l.Part)));
                blocks[layer] = new DeviceBlock(Vector(b.AttnNorm), Vector(b.FfnNorm),
                    b.Extras.Map(v => new DeviceVector(Vector(v))), linears);
            }
            Blocks = blocks;
            FinalNorm = Vector(model.FinalNorm);
            Output = Track(Tied(model) ? DenseDeviceLinear.Shared(runtime, Embedding, c.VocabSize, c.HiddenSize,
                    "cuBLAS Sgemm, float32 weights (tied to the embedding)")
                : DenseDeviceLinear.Upload(runtime, model.Output, "cuBLAS Sgemm, float32 weights"));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ICudaRuntime Runtime { get; }
    public InferenceModel Model { get; }
    public LlamaConfig Config { get; }
    internal DeviceOps Ops { get; } = null!;
    internal DevicePtr Embedding { get; }
    internal DeviceBlock[] Blocks { get; } = [];
    internal DevicePtr FinalNorm { get; }
    internal IDeviceLinear Output { get; } = null!;

    /// <summary>Every block linear that is not on the low-bit kernel: its tensor name and why.</summary>
    public List<(int Layer, string Part, string Reason)> Dense { get; } = new();

    public int OnLowBitKernel { get; private set; }

    /// <summary>Bytes of weights one decode step reads on the device: every block linear and the head as uploaded.</summary>
    public long WeightBytesPerToken => Blocks.Sum(b => b.Linears.Values.Sum(l => l.WeightBytes)) + Output.WeightBytes;

    public string Device => Runtime.DeviceName;

    /// <summary>"every op on {device}: 30 of 35 block linears on the low-bit kernel; ..." for eval's and generate's
    /// summaries.</summary>
    public string Placement()
    {
        int total = OnLowBitKernel + Dense.Count;
        string s = $"every op on the device ({Device}): {OnLowBitKernel} of {total} block linears on the low-bit kernel " +
                   "(fp16 activations, float32 output)";
        // One entry per reason; the parts and layers only where the reason does not cover every block linear.
        var groups = Dense.GroupBy(c => c.Reason).Select(g => g.Count() == total ? $"all ({g.Key})" : string.Join("; ",
            g.GroupBy(c => c.Part).Select(p =>
                $"{p.Key} of layer{(p.Count() > 1 ? "s" : "")} {string.Join(",", p.Select(c => c.Layer))}")) + $" ({g.Key})");
        if (Dense.Count > 0) s += $"; {Dense.Count} through cuBLAS Sgemm on float32 weights: " + string.Join("; ", groups);
        return s + $"; lm_head: {Output.Kind}";
    }

    private IDeviceLinear UploadLinear(int layer, BlockLinear l, ILinearWeights w)
    {
        if (w is LowBitCpuLinear { Weights: var weights })
        {
            try
            {
                // The kernel's own shape rules at M = 1 decide (the tensor-core kernel has the same ones).
                LowBitGemvLaunch.Plan(LowBitGemvLaunch.KernelF32, weights, 1);
                OnLowBitKernel++;
                return new LowBitBlockLinear(new LowBitLinear(weights).Upload(Runtime));
            }
            catch (QuantNativeException e)
            {
                Dense.Add((layer, l.Part, "dequantized: " + e.Message));
                return DenseDeviceLinear.Upload(Runtime, w, "cuBLAS Sgemm, dequantized float32 weights");
            }
        }
        Dense.Add((layer, l.Part, "not a 2-, 3- or 4-bit linear"));
        return DenseDeviceLinear.Upload(Runtime, w, "cuBLAS Sgemm, float32 weights");
    }

    private static bool Tied(InferenceModel model) => model.Output switch
    {
        ArrayLinear a => ReferenceEquals(a.Weight, model.Embedding.Source),
        MappedLinear m => ReferenceEquals(m.Tensor, model.Embedding.Source),
        _ => false,
    };

    private DevicePtr Vector(float[]? values) => values == null ? default : Own(DeviceBuffer.Upload<float>(Runtime, values));

    private DevicePtr Own(DevicePtr p)
    {
        _owned.Add(p);
        return p;
    }

    private IDeviceLinear Track(IDeviceLinear l)
    {
        _linears.Add(l);
        return l;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var l in _linears) l.Dispose();
        foreach (var p in _owned) Runtime.Free(p);
        _linears.Clear();
        _owned.Clear();
    }
}
