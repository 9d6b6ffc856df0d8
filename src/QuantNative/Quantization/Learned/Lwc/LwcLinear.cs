using QuantNative.Cpu;
using QuantNative.Model.Quantized;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned.Lwc;

/// <summary>
/// One linear layer under learnable weight clipping (DESIGN.md §7.3): its fp32 weights W, the parameters u, l per
/// group (initial 4.0), the host copies the training steps read and leave their result in (their gradients and
/// optimizer state live with the step, <see cref="TrainedLinear"/>). <see cref="Forward"/> builds Ŵ from the current
/// parameters on the host (the losses before and after the epochs); <see cref="Commit"/> quantizes W with the learned
/// range through <see cref="UniformQuantizer"/>.
/// </summary>
public sealed class LwcLinear
{
    private readonly byte[] _codes;
    private readonly float[] _scale, _zero, _wmax, _wmin;

    public string Name { get; }
    public LwcShape Shape { get; }
    public float[] Weights { get; }
    public Parameter<float> U { get; }
    public Parameter<float> L { get; }

    public LwcLinear(string name, float[] weights, int rows, int columns, QuantizerConfig config)
    {
        Name = name;
        Shape = new LwcShape(rows, columns, config.GroupSize, config.Bits, LwcShape.GridOf(config));
        Weights = weights;
        long groups = Shape.GroupCount;
        U = new Parameter<float>($"{name}.u", Filled(groups));
        L = new Parameter<float>($"{name}.l", Filled(groups));
        _codes = new byte[Shape.Elements];
        _scale = new float[groups]; _zero = new float[groups]; _wmax = new float[groups]; _wmin = new float[groups];
    }

    /// <summary>Bytes of this layer's host arrays beyond the block's weight tensors (codes, the saved per-group tensors,
    /// u and l); what its training step allocates on the backend is counted there (<see cref="Backends.BufferMeter"/>).</summary>
    public long Bytes => Backends.BufferMeter.HostBytes([_codes, _scale, _zero, _wmax, _wmin, U.Value, L.Value]);

    public void Forward(float[] wq) =>
        LwcFakeQuant.Forward(wq, _codes, _scale, _zero, _wmax, _wmin, Weights, U.Value, L.Value, Shape, ScaleClamp.Default);

    /// <summary>
    /// The stored matrix: per group xmax = γ·max(w), xmin = β·min(w) with the fake quantizer's float operations
    /// (<see cref="LwcFakeQuant.Group"/>), then <see cref="UniformQuantizer.Params"/> (scale rounded to fp16, zero
    /// clamped to [0, qmax]) and its codes, so the checkpoint stores exactly what dequantizes. Symmetric: s = fp16(γ·a/h)
    /// with a the group's largest magnitude, codes against z = h or h − 1 as the fake quantizer chose; a z = h − 1 group
    /// is stored as codes qmax − q, scale −s, zero h (the same values: (q − h + 1)·s = ((qmax − q) − h)·(−s)), so every
    /// symmetric group has GPTQ's zero 2^(bits−1), as GPTQ checkpoints, Q4_0 and Q8_0 require. Free minimum: s = fp16 of
    /// the fake quantizer's scale, m = fp16(β·min(w)), codes clamp(round((w − m)/s), 0, qmax), zeros 0 (GGUF's Q4_1/Q5_1).
    /// </summary>
    public QuantizedMatrix Commit(QuantizerConfig config) => Commit(Weights, Shape, U.Value, L.Value, config, Name);

    public static QuantizedMatrix Commit(float[] weights, LwcShape shape, float[] u, float[] l, QuantizerConfig config,
        string tensor)
    {
        var layout = shape.Layout;
        int rows = shape.Rows, columns = shape.Cols, groups = shape.Groups, qmax = config.MaxCode;
        var codes = new byte[shape.Elements];
        var scales = new float[shape.GroupCount];
        var zeros = new int[shape.GroupCount];
        var minimums = config.FreeMinimum ? new float[shape.GroupCount] : null;
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++)
        {
            int start = r * columns + layout.StartOf(g), length = layout.LengthOf(g), p = r * groups + g;
            var group = weights.AsSpan(start, length);
            if (config.Symmetric)
            {
                // The fake quantizer's own side and scale (LwcFakeQuant.Group), rounded to fp16 for storage.
                var (maxW, minW) = MaxMin(group);
                var (_, _, raw, negative) = LwcFakeQuant.Group(u[p], l[p], maxW, minW, shape);
                float s = UniformQuantizer.StoredScale(raw);
                int z = shape.SymmetricZero(negative);
                scales[p] = negative ? s : -s;
                zeros[p] = shape.Half;
                for (int i = start; i < start + length; i++)
                {
                    int q = UniformQuantizer.Quantize(weights[i], s, z, qmax);
                    codes[i] = (byte)(negative ? q : qmax - q);
                }
                continue;
            }
            if (minimums != null)
            {
                var (maxW, minW) = MaxMin(group);
                var (_, beta, raw, _) = LwcFakeQuant.Group(u[p], l[p], maxW, minW, shape);
                float s = UniformQuantizer.StoredScale(raw), m = (float)(Half)(beta * minW);
                scales[p] = s;
                minimums[p] = m;
                for (int i = start; i < start + length; i++)
                    codes[i] = (byte)UniformQuantizer.QuantizeFreeMinimum(weights[i], s, m, qmax);
                continue;
            }
            var (xmax, xmin) = ClipRange(group, u[p], l[p]);
            var (s0, z0) = UniformQuantizer.Params(xmin, xmax, config);
            scales[p] = s0;
            zeros[p] = z0;
            for (int i = start; i < start + length; i++)
                codes[i] = (byte)UniformQuantizer.Quantize(weights[i], s0, z0, qmax);
        }
        return new QuantizedMatrix(rows, columns, config, codes, scales, zeros, QuantizedMatrix.NaturalGroupIndex(layout),
            tensor, minimums);
    }

    /// <summary>Every group's learned range (β·min, γ·max), [rows·groups]: what a GGUF K-quant export starts from.
    /// Symmetric: the range the grid spans, [−z·s, (qmax − z)·s] with s = γ·a/h unrounded, so the side of the largest
    /// magnitude is the larger one (a K-quant search starts from it with the learned scale).</summary>
    public (float[] Min, float[] Max) ClipRanges()
    {
        var layout = Shape.Layout;
        int rows = Shape.Rows, columns = Shape.Cols, groups = Shape.Groups;
        var min = new float[Shape.GroupCount];
        var max = new float[Shape.GroupCount];
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++)
        {
            int p = r * groups + g;
            var group = Weights.AsSpan(r * columns + layout.StartOf(g), layout.LengthOf(g));
            if (Shape.Symmetric)
            {
                var (maxW, minW) = MaxMin(group);
                var (_, _, s, negative) = LwcFakeQuant.Group(U.Value[p], L.Value[p], maxW, minW, Shape);
                int z = Shape.SymmetricZero(negative);
                (min[p], max[p]) = (-z * s, (Shape.MaxCode - z) * s);
            }
            else (max[p], min[p]) = ClipRange(group, U.Value[p], L.Value[p]);
        }
        return (min, max);
    }

    private static (float Max, float Min) MaxMin(ReadOnlySpan<float> group)
    {
        float maxW = float.NegativeInfinity, minW = float.PositiveInfinity;
        foreach (float v in group)
        {
            maxW = MathF.Max(maxW, v);
            minW = MathF.Min(minW, v);
        }
        return (maxW, minW);
    }

    /// <summary>(γ·max(w), β·min(w)) of one group, γ = σ(u), β = σ(l).</summary>
    public static (float Xmax, float Xmin) ClipRange(ReadOnlySpan<float> group, float u, float l)
    {
        var (maxW, minW) = MaxMin(group);
        float gamma = LwcFakeQuant.Sigmoid(u), beta = LwcFakeQuant.Sigmoid(l);
        return (gamma * maxW, beta * minW);
    }

    private static float[] Filled(long n)
    {
        var a = new float[n];
        Array.Fill(a, LearnedOptions.InitialClipParameter);
        return a;
    }
}
