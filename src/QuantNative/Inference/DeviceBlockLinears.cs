using QuantNative.Cpu;
using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Model;

namespace QuantNative.Inference;

/// <summary>
/// The block linears of a GPTQ checkpoint run by the low-bit kernel on an <see cref="ICudaRuntime"/> (a GPU or the
/// emulator), everything else of the forward on the CPU as before. Design: each linear's repacked weights (the
/// model's, <see cref="LowBitRepack"/>, bit-exact) are uploaded once; per call the float32 activations are rounded to
/// fp16 (the kernel's input type), copied to the device, multiplied by
/// <see cref="LowBitDeviceLinear.Forward"/> into float32 (any M: the linear dispatches GEMV or the tensor-core
/// kernel), copied back and stored or added to the residual. A layer whose shape the kernel refuses (e.g. K not a
/// multiple of 8, like stories260K's down_proj with K = 172) stays on the CPU on its float32 dequantized weights, the
/// same Ŵ, rather than being padded: <see cref="Placement"/> says which ran where and why. Not thread-safe (one
/// runtime stream): evaluate one window at a time.
/// </summary>
public sealed unsafe class DeviceBlockLinears : IBlockLinearRunner, IDisposable
{
    private readonly ICudaRuntime _runtime;
    private readonly Dictionary<(int Layer, string Part), LowBitDeviceLinear> _device = new();
    private readonly Lock _gate = new();
    private DevicePtr _x, _y;
    private long _xBytes, _yBytes;
    private float[] _result = [];
    private Half[] _half = [];
    private bool _disposed;

    /// <summary>Every layer that stays on the CPU: its tensor name and the kernel's reason.</summary>
    public List<(int Layer, string Part, string Reason)> OnCpu { get; } = new();

    public int OnDevice => _device.Count;

    public string Device => _runtime.DeviceName;

    /// <param name="model">A GPTQ checkpoint opened for inference: each low-bit linear's repacked weights
    /// (<see cref="LowBitCpuLinear.Weights"/>, the layout both the CPU and the device kernels read) are uploaded as
    /// they are, so the checkpoint is repacked once, not once per backend.</param>
    public DeviceBlockLinears(ICudaRuntime runtime, InferenceModel model)
    {
        _runtime = runtime;
        try
        {
            for (int layer = 0; layer < model.Config.NumLayers; layer++)
            foreach (var linear in BlockLinears.All)
            {
                string name = BlockLinears.Name(layer, linear);
                if (model.Blocks[layer].Linear(linear.Part) is not LowBitCpuLinear { Weights: var weights })
                {
                    OnCpu.Add((layer, linear.Part, "not a 2-, 3- or 4-bit linear"));
                    continue;
                }
                try
                {
                    // The kernel's own shape rules at M = 1 decide (they do not depend on M otherwise).
                    LowBitGemvLaunch.Plan(LowBitGemvLaunch.KernelF32, weights, 1);
                }
                catch (QuantNativeException e)
                {
                    OnCpu.Add((layer, linear.Part, e.Message));
                    continue;
                }
                _device[(layer, linear.Part)] = new LowBitLinear(weights).Upload(runtime);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>"30 of 35 block linears on {device}; on the CPU: ..." for the eval summary.</summary>
    public string Placement()
    {
        int total = OnDevice + OnCpu.Count;
        string s = $"{OnDevice} of {total} block linears on the low-bit kernel ({Device}), fp16 activations, float32 output";
        // One entry per part and reason (the same shape refused in every layer is one line, not one per layer).
        var groups = OnCpu.GroupBy(c => (c.Part, c.Reason)).Select(g =>
            $"{g.Key.Part} of layer{(g.Count() > 1 ? "s" : "")} {string.Join(",", g.Select(c => c.Layer))} ({g.Key.Reason})");
        return OnCpu.Count == 0 ? s : $"{s}; {OnCpu.Count} on the CPU (float32, same dequantized weights): " +
                                      string.Join("; ", groups);
    }

    public bool TryForward(int layer, string part, ReadOnlySpan<float> x, Span<float> y, int tokens, bool accumulate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_device.TryGetValue((layer, part), out var linear)) return false;
        lock (_gate)
        {
            int k = linear.Weights.K, n = linear.Weights.N;
            long xCount = (long)tokens * k, yCount = (long)tokens * n;
            EnsureCapacity(xCount * sizeof(ushort), yCount * sizeof(float));
            if (_half.Length < xCount) _half = new Half[xCount];
            if (_result.Length < yCount) _result = new float[yCount];
            for (long i = 0; i < xCount; i++) _half[i] = (Half)x[(int)i];
            fixed (Half* h = _half) _runtime.CopyHostToDevice(_x, h, xCount * sizeof(ushort));
            linear.Forward(_y, _x, tokens, LowBitOutput.Float32);
            fixed (float* r = _result) _runtime.CopyDeviceToHost(r, _y, yCount * sizeof(float));
            var result = _result.AsSpan(0, (int)yCount);
            if (accumulate)
                for (int i = 0; i < result.Length; i++) y[i] += result[i];
            else result.CopyTo(y);
        }
        return true;
    }

    private void EnsureCapacity(long xBytes, long yBytes)
    {
        if (xBytes > _xBytes)
        {
            if (!_x.IsNull) _runtime.Free(_x);
            (_x, _xBytes) = (default, 0);
            _x = _runtime.Allocate(xBytes); // 256-byte aligned: the kernel reads x as 16-byte vectors
            _xBytes = xBytes;
        }
        if (yBytes > _yBytes)
        {
            if (!_y.IsNull) _runtime.Free(_y);
            (_y, _yBytes) = (default, 0);
            _y = _runtime.Allocate(yBytes);
            _yBytes = yBytes;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var d in _device.Values) d.Dispose();
        _device.Clear();
        if (!_x.IsNull) _runtime.Free(_x);
        if (!_y.IsNull) _runtime.Free(_y);
    }
}
