using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using QuantNative.Model.Quantized;

namespace QuantNative.Cpu;

/// <summary>
/// LWC fake quantization (DESIGN.md §7.3 on the §7.1 asymmetric quantizer), forward and exact backward, float32: the
/// CPU reference of kernels/quant/fakequant_lwc.cu and the CPU backend's implementation.
/// <para>Per group (row r, group j): γ = σ(u), β = σ(l), xmax = γ·max(w), xmin = β·min(w),
/// s = clamp((xmax − xmin)/qmax, min, max), z = clamp(round(−xmin/s), 0, qmax), q = clamp(round(w/s) + z, 0, qmax),
/// ŵ = (q − z)·s. round is half to even.</para>
/// <para>Decisions: (1) s is NOT rounded to fp16 while training (LWC learns in float32; the commit step quantizes
/// with <see cref="UniformQuantizer"/>'s fp16-stored scale). (2) z is clamped to [0, qmax] as
/// <see cref="UniformQuantizer"/> does, so a trained group is storable with the zero it trained with; the clamp
/// only acts when a group lies entirely on one side of zero. z carries no gradient either way.</para>
/// <para>Backward (straight-through rounding, z constant), g = dL/dŵ, r = w/s, c = round(r) + z,
/// inside = 0 ≤ c ≤ qmax: gs = Σ g·(inside ? round(r) − r : q − z), zeroed when the clamp on s is active
/// (raw s &lt; min or &gt; max); dL/dxmax = gs/qmax, dL/dxmin = −gs/qmax; du = dL/dxmax·max(w)·γ(1−γ),
/// dl = dL/dxmin·min(w)·β(1−β); dW = g·[inside] + dL/dxmax·γ/nmax on each element equal to max(w)
/// + dL/dxmin·β/nmin on each element equal to min(w). Ties: every element that compares equal (float ==, so −0 and +0
/// tie) to the group's max (min) is an arg-max (arg-min) and gets an equal share; an element that is both (a constant
/// group) gets both shares.</para>
/// <para>Symmetric (<see cref="LwcShape.Symmetric"/>, qn's addition to §7.3 for GGUF's Q4_0/Q3_K grids, which have no
/// zero point: x = d·(q − 2^(b−1)), d of either sign): one learned factor γ = σ(u) per group (l is not read, dl = 0),
/// h = 2^(bits−1). The side of the group's largest magnitude gets h levels, the other h − 1, as llama.cpp's
/// d = max/−8 does: if −min(w) ≥ max(w), xmin = γ·min(w), s = −xmin/h, z = h; otherwise xmax = γ·max(w), s = xmax/h,
/// z = h − 1. The side is a discrete decision (constant, like z). Backward: gs as above; dL/dxmin = −gs/h (du =
/// dL/dxmin·min(w)·γ(1−γ), arg-min elements + dL/dxmin·γ/nmin) or dL/dxmax = gs/h (du = dL/dxmax·max(w)·γ(1−γ),
/// arg-max elements + dL/dxmax·γ/nmax). Stored (<see cref="QuantNative.Quantization.Learned.Lwc.LwcLinear.Commit(QuantNative.Model.Quantized.QuantizerConfig)"/>)
/// a z = h − 1 group becomes codes qmax − q with scale −s and zero h: every symmetric group then has GPTQ's zero.</para>
/// <para>Free minimum (<see cref="LwcShape.FreeMinimum"/>, qn's addition to §7.3 for GGUF's Q4_1/Q5_1 and K-quant grids,
/// x = d·q + m with a float m): xmax, xmin and s as above, but the offset is xmin itself, not rounded to a multiple of
/// s: q = clamp(round((w − xmin)/s), 0, qmax), ŵ = q·s + xmin; the zero tensor holds xmin. Backward (straight-through
/// rounding), y = (w − xmin)/s: ∂ŵ/∂s = round(y) − y inside, q when clipped; ∂ŵ/∂xmin = 0 inside, 1 when clipped;
/// so gs = Σ g·(inside ? round(y) − y : q), gm = Σ_clipped g, dL/dxmax = gs/qmax, dL/dxmin = −gs/qmax + gm (gs = 0
/// while the clamp on s acts; gm still flows), du, dl and the arg-max/arg-min terms from them as above.</para>
/// <para>Every float operation is written so the kernel can reproduce it exactly (no FMA contraction in .NET; the
/// kernel uses __f*_rn): codes, ŵ, s, z, max, min are bit-exact on the emulator; gs is summed here sequentially and
/// in a tree on the GPU, so du, dl and the tie terms agree within float rounding.</para>
/// </summary>
public static unsafe class LwcFakeQuant
{
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    private static float RoundEven(float x) => MathF.Round(x, MidpointRounding.ToEven);

    private static float Clamp(float x, float lo, float hi) => MathF.Min(MathF.Max(x, lo), hi);

    /// <summary>γ, β and the scale before its clamp, with the kernel's operations; for the symmetric quantizer also the
    /// side of the largest magnitude (<c>NegativeSide</c>: −min(w) ≥ max(w)), β = 0.</summary>
    internal static (float Gamma, float Beta, float RawScale, bool NegativeSide) Group(float u, float l, float maxW,
        float minW, LwcShape shape)
    {
        float gamma = Sigmoid(u);
        if (shape.Symmetric)
        {
            bool negative = -minW >= maxW;
            return (gamma, 0f, gamma * (negative ? -minW : maxW) / shape.Half, negative);
        }
        float beta = Sigmoid(l);
        float xmax = gamma * maxW;
        float xmin = beta * minW;
        return (gamma, beta, (xmax - xmin) / shape.MaxCode, false);
    }

    /// <summary>The zero point of a group whose clamped scale is <paramref name="s"/>; the free minimum's offset
    /// xmin = β·min(w).</summary>
    internal static float Zero(float beta, float minW, float s, bool negativeSide, LwcShape shape) =>
        shape.Symmetric ? shape.SymmetricZero(negativeSide)
        : shape.FreeMinimum ? beta * minW
        : Clamp(RoundEven(-(beta * minW) / s), 0f, shape.MaxCode);

    /// <summary>ŵ of one element for a group's clamped scale <paramref name="s"/> and zero (free minimum: offset)
    /// <paramref name="z"/>, with the forward's scalar operations.</summary>
    internal static float FakeQuantize(float w, float s, float z, LwcShape shape)
    {
        float qmax = shape.MaxCode;
        if (shape.FreeMinimum) return Clamp(RoundEven((w - z) / s), 0f, qmax) * s + z;
        return (Clamp(RoundEven(w / s) + z, 0f, qmax) - z) * s;
    }

    /// <summary>The forward pass (argument order of DESIGN.md §9: outputs, saved state, inputs, parameters, sizes).
    /// wq, codes [rows, cols]; scale, zero, wmax, wmin, u, l [rows, groups].</summary>
    public static void Forward(Span<float> wq, Span<byte> codes, Span<float> scale, Span<float> zero,
        Span<float> wmax, Span<float> wmin, ReadOnlySpan<float> w, ReadOnlySpan<float> u, ReadOnlySpan<float> l,
        LwcShape shape, ScaleClamp clamp)
    {
        CheckLengths(shape, ("wq", wq.Length, shape.Elements), ("codes", codes.Length, shape.Elements),
            ("scale", scale.Length, shape.GroupCount), ("zero", zero.Length, shape.GroupCount),
            ("wmax", wmax.Length, shape.GroupCount), ("wmin", wmin.Length, shape.GroupCount),
            ("w", w.Length, shape.Elements), ("u", u.Length, shape.GroupCount), ("l", l.Length, shape.GroupCount));
        fixed (float* pwq = wq) fixed (byte* pcodes = codes) fixed (float* pscale = scale) fixed (float* pzero = zero)
        fixed (float* pwmax = wmax) fixed (float* pwmin = wmin) fixed (float* pw = w) fixed (float* pu = u) fixed (float* pl = l)
        {
            var t = new Tensors(pwq, pcodes, pscale, pzero, pwmax, pwmin, pw, pu, pl, null, null, null, null);
            // Rows are independent (groups never span rows), so they run in parallel with the same result.
            ParallelRows.For(shape.Rows, 8L * shape.Cols, r => ForwardRow(t, r, shape, clamp));
        }
    }

    private static void ForwardRow(Tensors t, int r, LwcShape shape, ScaleClamp clamp)
    {
        float qmax = shape.MaxCode;
        var layout = shape.Layout;
        for (int j = 0; j < shape.Groups; j++)
        {
            int start = r * shape.Cols + layout.StartOf(j), length = layout.LengthOf(j);
            int p = r * shape.Groups + j;
            var gw = new ReadOnlySpan<float>(t.W + start, length);
            // max and min are exact whatever the order (IEEE maximum/minimum, +0 above −0), so SIMD changes nothing.
            float maxW = TensorPrimitives.Max(gw), minW = TensorPrimitives.Min(gw);
            var (_, beta, raw, negative) = Group(t.U[p], t.L[p], maxW, minW, shape);
            float s = Clamp(raw, clamp.Min, clamp.Max);
            float z = Zero(beta, minW, s, negative, shape);
            t.Scale[p] = s;
            t.Zero[p] = z;
            t.Wmax[p] = maxW;
            t.Wmin[p] = minW;
            if (shape.FreeMinimum)
            {
                ForwardFreeMinimum(t, start, length, s, z, qmax);
                continue;
            }
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                // The scalar operations below, lane by lane (IEEE division, round half to even, min/max, no FMA).
                var sv = Vector256.Create(s);
                var zv = Vector256.Create(z);
                var qv = Vector256.Create(qmax);
                for (; i + 8 <= length; i += 8)
                {
                    var c = Vector256.Round(Vector256.Load(t.W + start + i) / sv) + zv;
                    var q = Vector256.Min(Vector256.Max(c, Vector256<float>.Zero), qv);
                    ((q - zv) * sv).Store(t.Wq + start + i);
                    var codes = Vector256.ConvertToInt32(q);
                    for (int k = 0; k < 8; k++) t.Codes[start + i + k] = (byte)codes.GetElement(k);
                }
            }
            for (; i < length; i++)
            {
                float c = RoundEven(gw[i] / s) + z;
                float q = Clamp(c, 0f, qmax);
                t.Codes[start + i] = (byte)q;
                t.Wq[start + i] = (q - z) * s;
            }
        }
    }

    /// <summary>One free-minimum group: q = clamp(round((w − m)/s), 0, qmax), ŵ = q·s + m.</summary>
    private static void ForwardFreeMinimum(Tensors t, int start, int length, float s, float m, float qmax)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var sv = Vector256.Create(s);
            var mv = Vector256.Create(m);
            var qv = Vector256.Create(qmax);
            for (; i + 8 <= length; i += 8)
            {
                var c = Vector256.Round((Vector256.Load(t.W + start + i) - mv) / sv);
                var q = Vector256.Min(Vector256.Max(c, Vector256<float>.Zero), qv);
                (q * sv + mv).Store(t.Wq + start + i);
                var codes = Vector256.ConvertToInt32(q);
                for (int k = 0; k < 8; k++) t.Codes[start + i + k] = (byte)codes.GetElement(k);
            }
        }
        for (; i < length; i++)
        {
            float q = Clamp(RoundEven((t.W[start + i] - m) / s), 0f, qmax);
            t.Codes[start + i] = (byte)q;
            t.Wq[start + i] = q * s + m;
        }
    }

    /// <summary>The backward pass (§9: input gradients, parameter gradients, upstream gradient, saved tensors, sizes).
    /// dW, dWq, w [rows, cols]; du, dl, u, l and the forward's scale, zero, wmax, wmin [rows, groups].</summary>
    public static void Backward(Span<float> dW, Span<float> du, Span<float> dl, ReadOnlySpan<float> dWq,
        ReadOnlySpan<float> w, ReadOnlySpan<float> u, ReadOnlySpan<float> l, ReadOnlySpan<float> scale,
        ReadOnlySpan<float> zero, ReadOnlySpan<float> wmax, ReadOnlySpan<float> wmin, LwcShape shape,
        ScaleClamp clamp)
    {
        CheckLengths(shape, ("dW", dW.Length, shape.Elements), ("du", du.Length, shape.GroupCount),
            ("dl", dl.Length, shape.GroupCount), ("dWq", dWq.Length, shape.Elements), ("w", w.Length, shape.Elements),
            ("u", u.Length, shape.GroupCount), ("l", l.Length, shape.GroupCount),
            ("scale", scale.Length, shape.GroupCount), ("zero", zero.Length, shape.GroupCount),
            ("wmax", wmax.Length, shape.GroupCount), ("wmin", wmin.Length, shape.GroupCount));
        fixed (float* pdW = dW) fixed (float* pdu = du) fixed (float* pdl = dl) fixed (float* pdWq = dWq)
        fixed (float* pw = w) fixed (float* pu = u) fixed (float* pl = l) fixed (float* pscale = scale)
        fixed (float* pzero = zero) fixed (float* pwmax = wmax) fixed (float* pwmin = wmin)
        {
            var t = new Tensors(null, null, pscale, pzero, pwmax, pwmin, pw, pu, pl, pdW, pdu, pdl, pdWq);
            ParallelRows.For(shape.Rows, 10L * shape.Cols, r => BackwardRow(t, r, shape, clamp));
        }
    }

    private static void BackwardRow(Tensors t, int r, LwcShape shape, ScaleClamp clamp)
    {
        float qmax = shape.MaxCode;
        var layout = shape.Layout;
        float* w = t.W, dWq = t.DWq, dW = t.DW;
        for (int j = 0; j < shape.Groups; j++)
        {
            int start = r * shape.Cols + layout.StartOf(j), length = layout.LengthOf(j);
            int p = r * shape.Groups + j;
            float s = t.Scale[p], z = t.Zero[p], maxW = t.Wmax[p], minW = t.Wmin[p];
            float gs = 0f, gm = 0f;
            int maxTies = 0, minTies = 0;
            int i = start, end = start + length;
            if (shape.FreeMinimum)
            {
                // y = (w − m)/s: the free minimum's direct gradient and sums (z holds m), in element order.
                for (; i < end; i++)
                {
                    float v = w[i], g = dWq[i];
                    float y = (v - z) / s;
                    float c = RoundEven(y);
                    bool inside = c >= 0f && c <= qmax;
                    gs += g * (inside ? c - y : Clamp(c, 0f, qmax));
                    if (!inside) gm += g;
                    if (v == maxW) maxTies++;
                    if (v == minW) minTies++;
                    dW[i] = inside ? g : 0f;
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                var sv = Vector256.Create(s);
                var zv = Vector256.Create(z);
                var qv = Vector256.Create(qmax);
                var maxv = Vector256.Create(maxW);
                var minv = Vector256.Create(minW);
                for (; i + 8 <= end; i += 8)
                {
                    var v = Vector256.Load(w + i);
                    var g = Vector256.Load(dWq + i);
                    var x = v / sv;
                    var rr = Vector256.Round(x);
                    var c = rr + zv;
                    var inside = Vector256.GreaterThanOrEqual(c, Vector256<float>.Zero) & Vector256.LessThanOrEqual(c, qv);
                    var dws = Vector256.ConditionalSelect(inside, rr - x,
                        Vector256.Min(Vector256.Max(c, Vector256<float>.Zero), qv) - zv);
                    var products = g * dws;
                    // gs in the scalar order (element by element), so du, dl do not depend on the vector width.
                    for (int k = 0; k < 8; k++) gs += products.GetElement(k);
                    maxTies += BitOperations.PopCount(Vector256.Equals(v, maxv).ExtractMostSignificantBits());
                    minTies += BitOperations.PopCount(Vector256.Equals(v, minv).ExtractMostSignificantBits());
                    Vector256.ConditionalSelect(inside, g, Vector256<float>.Zero).Store(dW + i);
                }
            }
            for (; i < end; i++)
            {
                float v = w[i], g = dWq[i];
                float x = v / s;
                float rr = RoundEven(x);
                float c = rr + z;
                bool inside = c >= 0f && c <= qmax;
                float dws = inside ? rr - x : Clamp(c, 0f, qmax) - z;
                gs += g * dws;
                if (v == maxW) maxTies++;
                if (v == minW) minTies++;
                dW[i] = inside ? g : 0f;
            }
            var (gamma, beta, raw, negative) = Group(t.U[p], t.L[p], maxW, minW, shape);
            if (raw < clamp.Min || raw > clamp.Max) gs = 0f;
            float addMax, addMin;
            if (shape.Symmetric)
            {
                // One side's range sets s = ±x/h; only that side's extreme and factor γ carry the gradient.
                float dX = negative ? -(gs / shape.Half) : gs / shape.Half, extreme = negative ? minW : maxW;
                t.DU[p] = dX * extreme * gamma * (1f - gamma);
                t.DL[p] = 0f;
                addMax = negative ? 0f : dX * gamma / Math.Max(maxTies, 1);
                addMin = negative ? dX * gamma / Math.Max(minTies, 1) : 0f;
            }
            else
            {
                float dXmax = gs / qmax;
                // The free minimum is also the offset: clipped elements move with it one for one.
                float dXmin = shape.FreeMinimum ? -dXmax + gm : -dXmax;
                t.DU[p] = dXmax * maxW * gamma * (1f - gamma);
                t.DL[p] = dXmin * minW * beta * (1f - beta);
                addMax = dXmax * gamma / Math.Max(maxTies, 1);
                addMin = dXmin * beta / Math.Max(minTies, 1);
            }
            // The arg-max/arg-min terms: a few elements per group; whole vectors without one are skipped.
            int e = start;
            if (Vector256.IsHardwareAccelerated)
            {
                var maxv = Vector256.Create(maxW);
                var minv = Vector256.Create(minW);
                for (; e + 8 <= end; e += 8)
                {
                    var v = Vector256.Load(w + e);
                    if ((Vector256.Equals(v, maxv) | Vector256.Equals(v, minv)) == Vector256<float>.Zero) continue;
                    for (int k = e; k < e + 8; k++) AddTies(dW, w, k, maxW, minW, addMax, addMin);
                }
            }
            for (; e < end; e++) AddTies(dW, w, e, maxW, minW, addMax, addMin);
        }
    }

    private static void AddTies(float* dW, float* w, int i, float maxW, float minW, float addMax, float addMin)
    {
        float v = w[i];
        if (v == maxW) dW[i] += addMax;
        if (v == minW) dW[i] += addMin;
    }

    /// <summary>The pinned tensors of one call, shared by the row tasks (each row writes only its own elements).</summary>
    private readonly struct Tensors(float* wq, byte* codes, float* scale, float* zero, float* wmax, float* wmin,
        float* w, float* u, float* l, float* dW, float* du, float* dl, float* dWq)
    {
        public readonly float* Wq = wq, Scale = scale, Zero = zero, Wmax = wmax, Wmin = wmin, W = w, U = u, L = l;
        public readonly float* DW = dW, DU = du, DL = dl, DWq = dWq;
        public readonly byte* Codes = codes;
    }

    internal static void CheckLengths(LwcShape shape, params (string Name, long Actual, long Expected)[] tensors)
    {
        foreach (var (name, actual, expected) in tensors)
            if (actual != expected)
                throw new QuantNativeException(
                    $"LWC fake quantization {shape}: {name} has {actual} elements, expected {expected}");
    }
}
