using QuantNative.Cpu.Weights;
using QuantNative.Cuda;
using QuantNative.Formats;
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
/// <see cref="DeviceInferenceSession"/>s, which share it: the embedding table in its stored dtype (BF16/F16 as the
/// checkpoint holds it, else float32; a head tied to it multiplies the same buffer), norms and biases float32, each
/// block linear on the low-bit kernels where the model holds it packed and the kernel takes its shape, else dense
/// (<see cref="DenseDeviceLinear"/>: BF16/F16 tensors as stored, float32 ones and low-bit layers whose shape the kernel
/// refuses, e.g. stories260K's down_proj with K = 172, as float32 — the exactly dequantized Ŵ the CPU engine
/// multiplies), and the head the same way. Nothing is widened to a float32 copy of a 16-bit tensor on the device
/// (prefill widens one slice of rows at a time into scratch). <see cref="Placement"/> says which ran where.
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
            // As stored: a BF16/F16 table keeps its 2 bytes per weight (the lookup widens the rows it copies).
            var mapped = model.Embedding.Source as MappedTensor;
            EmbeddingDType = DenseDeviceLinear.StorageOf(mapped);
            Embedding = Own(runtime.Allocate((long)c.VocabSize * c.HiddenSize * EmbeddingDType.ByteSize()));
            if (EmbeddingDType == FloatDType.F32)
                DenseDeviceLinear.UploadRows(runtime, Embedding, c.VocabSize, c.HiddenSize, model.Embedding.ReadRows);
            else DenseDeviceLinear.UploadStored(runtime, Embedding, mapped!);
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
            Output = Track(Tied(model) ? DenseDeviceLinear.Shared(runtime, Embedding, EmbeddingDType, c.VocabSize,
                    c.HiddenSize, DenseDeviceLinear.KindOf(EmbeddingDType) + " (tied to the embedding)")
                : DenseDeviceLinear.Upload(runtime, model.Output));
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

    /// <summary>The embedding table's dtype on the device (the checkpoint's BF16/F16, else float32).</summary>
    internal FloatDType EmbeddingDType { get; }
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
        if (Dense.Count > 0)
            s += $"; {Dense.Count} dense ({string.Join("; ", _linears.OfType<DenseDeviceLinear>().Where(l => l != Output).Select(l => l.Kind).Distinct())}): " +
                 string.Join("; ", groups);
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
                return DenseDeviceLinear.Upload(Runtime, w, DenseDeviceLinear.KindOf(FloatDType.F32, "dequantized weights"));
            }
        }
        Dense.Add((layer, l.Part, "not a 2-, 3- or 4-bit linear"));
        return DenseDeviceLinear.Upload(Runtime, w);
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
