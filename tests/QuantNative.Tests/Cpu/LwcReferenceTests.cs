using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Model.Quantized;
using QuantNative.Verification;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// The C# reference of LWC fake quantization (DESIGN.md §7.3): the float64 backward against central finite
/// differences of its straight-through definition, the float32 reference against the float64 one, and the forward
/// against the §7.1 quantizer's definitions.
/// </summary>
public class LwcReferenceTests
{
    private const double MinScale = 1e-5, MaxScale = 1e4;

    private static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    [TestCase(3, 70, 32, 2)]
    [TestCase(3, 70, 32, 3)]
    [TestCase(2, 64, 64, 4)]
    [TestCase(4, 45, -1, 8)]
    [TestCase(3, 100, 48, 4)]
    [TestCase(3, 70, 32, 2, LwcGrid.Symmetric)]
    [TestCase(3, 64, 16, 3, LwcGrid.Symmetric)]
    [TestCase(2, 64, 32, 4, LwcGrid.Symmetric)]
    [TestCase(4, 45, -1, 8, LwcGrid.Symmetric)]
    [TestCase(3, 70, 32, 2, LwcGrid.FreeMinimum)]
    [TestCase(3, 64, 32, 5, LwcGrid.FreeMinimum)]
    [TestCase(3, 100, 48, 4, LwcGrid.FreeMinimum)]
    [TestCase(4, 45, -1, 8, LwcGrid.FreeMinimum)]
    public void DoubleBackward_MatchesCentralFiniteDifferences(int rows, int cols, int group, int bits,
        LwcGrid grid = LwcGrid.ZeroPoint)
    {
        var shape = new LwcShape(rows, cols, group, bits, grid);
        bool symmetric = shape.Symmetric;
        var rng = TestRandom.New();
        // Continuous random weights (no ties, so max/min are differentiable); row 1 tiny so the scale clamp acts there.
        var x = LwcInputs.Create(rng, shape, special: false);
        double[] w = D(x.W), u = D(x.U), l = D(x.L), g = D(x.DWq);
        u[0] = -1; // γ = 0.27: group 0 clips its top
        l[0] = -0.5;
        if (rows > 1)
            for (int c = 0; c < cols; c++) w[cols + c] *= 1e-6;
        int n = (int)shape.Elements, groups = (int)shape.GroupCount;
        if (symmetric)
        {
            // Both sides of the symmetric quantizer: group 0's largest magnitude negative, the last group's positive.
            SetSide(w, shape, 0, negative: true);
            SetSide(w, shape, groups - 1, negative: false);
        }

        var wq = new double[n]; var codes = new double[n];
        double[] s = new double[groups], z = new double[groups], mx = new double[groups], mn = new double[groups];
        LwcFakeQuantDouble.Forward(wq, codes, s, z, mx, mn, w, u, l, shape, MinScale, MaxScale);
        double[] dW = new double[n], du = new double[groups], dl = new double[groups];
        LwcFakeQuantDouble.Backward(dW, du, dl, g, w, u, l, s, z, mx, mn, shape, MinScale, MaxScale);

        var f = new LwcSurrogate(shape, w, u, l, g, MinScale, MaxScale);
        Assert.That(f.Loss(w, u, l), Is.EqualTo(wq.Zip(g, (a, b) => a * b).Sum()).Within(1e-12),
            "the surrogate equals Σ g·ŵ at the base point");

        double Loss(double[] v, int i, int group, double value)
        {
            double keep = v[i];
            v[i] = value;
            double loss = f.Loss(w, u, l, group);
            v[i] = keep;
            return loss;
        }

        // u, l: L is smooth (sigmoid) in them: five-point stencil, h = 1e-2 (truncation ~h⁴ ≈ 1e-8 of a derivative
        // scale, roundoff ε·|L|/h ≈ 1e-14 absolute).
        double FdSmooth(double[] v, int p)
        {
            const double h = 1e-2;
            double x = v[p];
            return (Loss(v, p, p, x - 2 * h) - 8 * Loss(v, p, p, x - h) + 8 * Loss(v, p, p, x + h)
                    - Loss(v, p, p, x + 2 * h)) / (12 * h);
        }

        // w: L is linear in w_i as long as the group's max and min stay the same elements (only the extremes enter
        // through s), so a central difference is exact up to roundoff for a step below half the distance to the
        // nearest order change that matters: 1e-3 of the group's range, capped by those gaps.
        double FdLinear(int i)
        {
            int p = f.GroupIndex(i);
            int r = i / cols, j = p % shape.Groups;
            int start = r * cols + shape.Layout.StartOf(j), end = start + shape.Layout.LengthOf(j);
            double h = 1e-3 * (mx[p] - mn[p]);
            for (int k = start; k < end; k++)
            {
                if (k == i) continue;
                bool extreme = w[i] == mx[p] || w[i] == mn[p] || w[k] == mx[p] || w[k] == mn[p];
                if (extreme) h = Math.Min(h, 0.4 * Math.Abs(w[k] - w[i]));
            }
            double x = w[i];
            return (Loss(w, i, p, x + h) - Loss(w, i, p, x - h)) / (2 * h);
        }

        double worst = 0;
        void Compare(string name, double[] analytic, double[] v, bool perElement)
        {
            for (int i = 0; i < analytic.Length; i++)
            {
                double fd = perElement ? FdLinear(i) : FdSmooth(v, i), a = analytic[i];
                double scale = Math.Max(Math.Abs(a), Math.Abs(fd));
                double rel = scale == 0 ? 0 : Math.Abs(a - fd) / scale;
                // Exact zeros (clipped elements, clamped groups) come out of the differences as roundoff of the group's
                // loss over 2h: below 1e-9 absolute is zero (genuine gradients here are ≳ 1e-6).
                if (scale < 1e-9) continue;
                worst = Math.Max(worst, rel);
                Assert.That(rel, Is.LessThan(Tolerances.LwcFiniteDifferenceRel),
                    $"{name}[{i}]: analytic {a:R}, finite difference {fd:R}");
            }
        }
        Compare("du", du, u, false);
        Compare("dl", dl, l, false);
        Compare("dW", dW, w, true);
        TestContext.Out.WriteLine($"worst relative error {worst:E2}");
        if (rows > 1)
            for (int j = 0; j < shape.Groups; j++)
            {
                Assert.That(s[shape.Groups + j], Is.EqualTo(MinScale), "row 1 is clamped");
                Assert.That(du[shape.Groups + j], Is.Zero, "the clamp kills du");
                Assert.That(dl[shape.Groups + j], Is.Zero, "the clamp kills dl");
            }
        Assert.That(du.Count(v => v != 0), Is.GreaterThan(0), "some du are nonzero");
        if (symmetric)
        {
            Assert.That(dl, Is.All.Zero, "symmetric clipping has no second factor");
            Assert.That(Enumerable.Range(0, groups).Select(p => z[p]).Distinct().Count(), Is.EqualTo(2),
                "groups of both sides (zero h and h − 1)");
        }
        Assert.That(Enumerable.Range(0, n).Count(i => dW[i] == 0), Is.GreaterThan(0), "some elements are clipped");
    }

    /// <summary>Negates group p where needed so that its element of largest magnitude has the asked sign.</summary>
    private static void SetSide(double[] w, LwcShape shape, int p, bool negative)
    {
        int r = p / shape.Groups, j = p % shape.Groups;
        int start = r * shape.Cols + shape.Layout.StartOf(j), end = start + shape.Layout.LengthOf(j);
        double extreme = 0;
        for (int i = start; i < end; i++)
            if (Math.Abs(w[i]) > Math.Abs(extreme)) extreme = w[i];
        if (extreme < 0 != negative)
            for (int i = start; i < end; i++) w[i] = -w[i];
    }

    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(8)]
    [TestCase(3, LwcGrid.Symmetric)]
    [TestCase(4, LwcGrid.Symmetric)]
    [TestCase(3, LwcGrid.FreeMinimum)]
    [TestCase(5, LwcGrid.FreeMinimum)]
    public void Float32Reference_AgreesWithFloat64(int bits, LwcGrid grid = LwcGrid.ZeroPoint)
    {
        var shape = new LwcShape(17, 300, 128, bits, grid);
        var x = LwcInputs.Create(TestRandom.New(), shape);
        var o = LwcOutputs.Reference(x, ScaleClamp.Default);
        int n = (int)shape.Elements, groups = (int)shape.GroupCount;
        var wq = new double[n]; var codes = new double[n];
        double[] s = new double[groups], z = new double[groups], mx = new double[groups], mn = new double[groups];
        double[] w = D(x.W), u = D(x.U), l = D(x.L);
        LwcFakeQuantDouble.Forward(wq, codes, s, z, mx, mn, w, u, l, shape, MinScale, MaxScale);
        for (int p = 0; p < groups; p++)
            Assert.That(o.Scale[p], Is.EqualTo(s[p]).Within(1e-4).Percent, $"scale {p}");
        // Codes may differ by one where w/s is within float rounding of a half: count them, they must be rare.
        int differ = Enumerable.Range(0, n).Count(i => o.Codes[i] != codes[i]);
        Assert.That(differ, Is.LessThanOrEqualTo(n / 1000 + 1), "codes differing from float64");
    }

    [Test]
    public void Forward_IsTheUniformQuantizerOfTheClippedRange()
    {
        var shape = new LwcShape(5, 96, 32, 4);
        var x = LwcInputs.Create(TestRandom.New(), shape, special: false);
        var o = LwcOutputs.Reference(x, ScaleClamp.Default);
        for (int p = 0; p < shape.GroupCount; p++)
        {
            int r = p / shape.Groups, j = p % shape.Groups;
            var group = x.W.AsSpan(r * shape.Cols + j * 32, 32);
            float mx = float.MinValue, mn = float.MaxValue;
            foreach (var v in group) { mx = Math.Max(mx, v); mn = Math.Min(mn, v); }
            Assert.That(o.Max[p], Is.EqualTo(mx));
            Assert.That(o.Min[p], Is.EqualTo(mn));
            float gamma = 1f / (1f + MathF.Exp(-x.U[p])), beta = 1f / (1f + MathF.Exp(-x.L[p]));
            float s = Math.Clamp((gamma * mx - beta * mn) / 15f, 1e-5f, 1e4f);
            Assert.That(o.Scale[p], Is.EqualTo(s));
            for (int i = 0; i < 32; i++)
            {
                int q = UniformQuantizer.Quantize(group[i], s, (int)o.Zero[p], 15);
                Assert.That(o.Codes[r * shape.Cols + j * 32 + i], Is.EqualTo(q));
                Assert.That(o.Wq[r * shape.Cols + j * 32 + i], Is.EqualTo(UniformQuantizer.Dequantize(q, s, (int)o.Zero[p])));
            }
        }
    }

    /// <summary>The symmetric quantizer at γ = 1 (u = 20) is llama.cpp's Q4_0/Q3_K grid: the element of largest
    /// magnitude is a level (its own value, h steps from zero), the other side has h − 1 levels, and every code is the
    /// §7.1 quantizer's against that scale and zero.</summary>
    [TestCase(4)]
    [TestCase(3)]
    public void Forward_SymmetricPutsTheLargestMagnitudeOnTheLongSide(int bits)
    {
        var shape = new LwcShape(6, 96, 32, bits, LwcGrid.Symmetric);
        var x = LwcInputs.Create(TestRandom.New(), shape, special: false);
        Array.Fill(x.U, 20f);
        for (int c = 0; c < 32; c++) x.W[c] = c == 5 ? 0.9f : c * 0.01f - 0.1f; // row 0 group 0: the max 0.9 is the largest
        var o = LwcOutputs.Reference(x, ScaleClamp.Default);
        int h = 1 << (bits - 1), qmax = (1 << bits) - 1, sides = 0;
        for (int p = 0; p < shape.GroupCount; p++)
        {
            int r = p / shape.Groups, j = p % shape.Groups, start = r * shape.Cols + j * 32;
            var group = x.W.AsSpan(start, 32);
            float mx = float.MinValue, mn = float.MaxValue;
            foreach (var v in group) { mx = Math.Max(mx, v); mn = Math.Min(mn, v); }
            bool negative = -mn >= mx;
            sides |= negative ? 1 : 2;
            Assert.That(o.Zero[p], Is.EqualTo(negative ? h : h - 1), $"zero of group {p}");
            Assert.That(o.Scale[p], Is.EqualTo((negative ? -mn : mx) / h), $"scale of group {p}");
            for (int i = 0; i < 32; i++)
            {
                int q = UniformQuantizer.Quantize(group[i], o.Scale[p], (int)o.Zero[p], qmax);
                Assert.That(o.Codes[start + i], Is.EqualTo(q));
                Assert.That(o.Wq[start + i], Is.EqualTo(UniformQuantizer.Dequantize(q, o.Scale[p], (int)o.Zero[p])));
                if (group[i] == (negative ? mn : mx))
                    Assert.That(o.Wq[start + i], Is.EqualTo(group[i]), $"the extreme of group {p} is a level");
            }
        }
        Assert.That(sides, Is.EqualTo(3), "groups of both sides");
        Assert.That(o.Dl, Is.All.Zero);
    }

    /// <summary>Symmetric, max = −min (a tie between the sides): the negative side (zero h, as GPTQ's convention puts
    /// the extra level below zero), so only the arg-min elements carry the range's gradient, shared evenly.</summary>
    [Test]
    public void Symmetric_ATieBetweenTheSidesTakesTheNegativeOne()
    {
        var shape = new LwcShape(1, 8, 8, 4, LwcGrid.Symmetric);
        float[] w = [1f, -1f, 0.25f, 0.5f, -1f, 0.1f, 1f, 0f];
        var dwq = new float[] { 0.3f, -0.2f, 0.7f, 0.1f, 0.4f, -0.9f, 0.5f, 0.2f };
        var x = new LwcInputs { Shape = shape, W = w, U = [2f], L = [0f], DWq = dwq };
        var o = LwcOutputs.Reference(x, ScaleClamp.Default);
        Assert.That(o.Zero[0], Is.EqualTo(8f));
        float gamma = LwcFakeQuant.Sigmoid(2f);
        Assert.That(o.Scale[0], Is.EqualTo(gamma * 1f / 8));
        // γ < 1: both −1 elements are clipped (code 0), the +1 elements are clipped at the top (code 15).
        float dxmin = o.Du[0] / (-1f * gamma * (1f - gamma));
        foreach (int i in new[] { 1, 4 })
            Assert.That(o.DW[i], Is.EqualTo(dxmin * gamma / 2).Within(1e-4).Percent, $"min tie {i}");
        foreach (int i in new[] { 0, 6 }) Assert.That(o.DW[i], Is.Zero, $"clipped max element {i}: no path");
        Assert.That(o.Du[0], Is.Not.Zero);
        Assert.That(o.Dl[0], Is.Zero);
    }

    [Test]
    public void Ties_ShareTheMaxAndMinPathsEvenly()
    {
        // One group of 8: max 1.0 three times, min −0.5 twice; everything inside.
        var shape = new LwcShape(1, 8, 8, 8);
        float[] w = [1f, -0.5f, 0.25f, 1f, -0.5f, 0.1f, 1f, 0f];
        float[] u = [3f], l = [2f];
        var dwq = new float[] { 0.3f, -0.2f, 0.7f, 0.1f, 0.4f, -0.9f, 0.5f, 0.2f };
        var x = new LwcInputs { Shape = shape, W = w, U = u, L = l, DWq = dwq };
        var o = LwcOutputs.Reference(x, ScaleClamp.Default);
        // γ, β < 1: the tied max and min elements are clipped (no direct part), so their dW is exactly an equal share of
        // dL/dxmax·γ (dL/dxmin·β).
        float gamma = 1f / (1f + MathF.Exp(-3f)), beta = 1f / (1f + MathF.Exp(-2f));
        float dxmax = o.Du[0] / (1f * gamma * (1f - gamma));
        float dxmin = o.Dl[0] / (-0.5f * beta * (1f - beta));
        Assert.That(dxmin, Is.EqualTo(-dxmax).Within(1e-5).Percent);
        foreach (int i in new[] { 0, 3, 6 })
            Assert.That(o.DW[i], Is.EqualTo(dxmax * gamma / 3).Within(1e-4).Percent, $"max tie {i}");
        foreach (int i in new[] { 1, 4 })
            Assert.That(o.DW[i], Is.EqualTo(dxmin * beta / 2).Within(1e-4).Percent, $"min tie {i}");
        foreach (int i in new[] { 2, 5, 7 }) Assert.That(o.DW[i], Is.EqualTo(dwq[i]), $"plain element {i}");
        Assert.That(o.Du[0], Is.Not.Zero);
    }

    [Test]
    public void BadShapes_AreRefusedWithTheirNumbers()
    {
        Assert.That(() => new LwcShape(0, 10, 4, 4), Throws.TypeOf<QuantNativeException>().With.Message.Contains("0 rows"));
        Assert.That(() => new LwcShape(1, 10, 4, 9), Throws.TypeOf<QuantNativeException>().With.Message.Contains("9 bits"));
        var shape = new LwcShape(2, 10, 4, 4);
        var e = Assert.Throws<QuantNativeException>(() => LwcFakeQuant.Forward(new float[20], new byte[20],
            new float[6], new float[6], new float[6], new float[6], new float[19], new float[6], new float[6], shape,
            ScaleClamp.Default))!;
        Assert.That(e.Message, Does.Contain("w has 19 elements, expected 20"));
        Assert.That(e.Message, Does.Contain("[2, 10] W4 g4"));
    }

    /// <summary>
    /// Every element of the group an exact tie (w/s = k + ½; s = 1 with γ = β = σ(20) = 1f): codes round half to even,
    /// in the vectorized body (the first 16 elements) and in the scalar tail alike.
    /// </summary>
    [Test]
    public void TiesRoundHalfToEvenInTheVectorBodyAndTheTail()
    {
        const int cols = 19; // 16 in 8-wide vectors, 3 in the tail
        var shape = new LwcShape(1, cols, -1, 4);
        var w = new float[cols];
        for (int i = 0; i < 16; i++) w[i] = i - 7.5f;            // −7.5 … 7.5: range 15 = qmax, so s = 1
        w[16] = -0.5f; w[17] = 2.5f; w[18] = 5.5f;
        float[] u = [20f], l = [20f];
        Assert.That(LwcFakeQuant.Sigmoid(20f), Is.EqualTo(1f), "γ = β = 1 exactly");
        var wq = new float[cols];
        var codes = new byte[cols];
        float[] scale = new float[1], zero = new float[1], mx = new float[1], mn = new float[1];
        LwcFakeQuant.Forward(wq, codes, scale, zero, mx, mn, w, u, l, shape, ScaleClamp.Default);
        Assert.That(scale[0], Is.EqualTo(1f));
        Assert.That(zero[0], Is.EqualTo(8f), "round(7.5) = 8 (even)");
        for (int i = 0; i < cols; i++)
        {
            int expected = (int)Math.Clamp(MathF.Round(w[i], MidpointRounding.ToEven) + 8, 0, 15);
            Assert.That(codes[i], Is.EqualTo(expected), $"w = {w[i]}");
            Assert.That(wq[i], Is.EqualTo(expected - 8f), $"ŵ of w = {w[i]}");
        }
    }
}
