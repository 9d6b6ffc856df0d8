using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Tests.Training;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// SDE's products (DESIGN.md §7.6): E = 0 leaves W bit for bit; the composition is the dense definition
/// W + U·(M⊙E)·Vᵀ; the banded gradient is the masked full product Uᵀ·G·V; the gradient through the LWC quantizer
/// (arg-max/arg-min paths included) against finite differences; and the diagonal mask against LSI (§7.5) written
/// the literal way, step for step.
/// </summary>
public class SdeGradientTests
{
    private const double MinScale = 1e-5, MaxScale = 1e4;

    private static float[] RandomWeights(int rows, int cols, int seed) => ToFloat(Uniform(new Random(seed), (long)rows * cols));

    private static double[] D(float[] a) => ToDouble(a);

    public static IEnumerable<TestCaseData> Cases()
    {
        // rows, cols, mask
        yield return new TestCaseData(17, 24, "diag");
        yield return new TestCaseData(24, 17, "band:2");
        yield return new TestCaseData(33, 16, "block:5");
        yield return new TestCaseData(16, 40, "band:1+block:6");
        yield return new TestCaseData(3, 1, "band:3");
    }

    [TestCaseSource(nameof(Cases))]
    public void ZeroEKeepsTheWeightBitForBit(int rows, int cols, string spec)
    {
        var w = RandomWeights(rows, cols, rows * 31 + cols);
        var f = QuantNative.Cpu.Svd.Thin(w, rows, cols);
        var layout = SdeMask.Parse(spec).For(f.Rank, "w");
        var sde = new SdeLinear("w", w, rows, cols, f.Leading(layout.Active), layout);
        Array.Fill(sde.Composed, float.NaN);
        sde.Compose();
        for (int i = 0; i < w.Length; i++)
            Assert.That(BitConverter.SingleToInt32Bits(sde.Composed[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(w[i])), $"W'[{i}]");
    }

    [TestCaseSource(nameof(Cases))]
    public void ComposeIsTheDenseDefinition(int rows, int cols, string spec)
    {
        var (w, ut, vt, layout) = DoubleFactors(rows, cols, spec, seed: 3);
        var e = Uniform(new Random(4), layout.Count);
        var composed = Poisoned<double>((long)rows * cols);
        SdeMath.Compose(composed, new double[layout.Active * rows], w, ut, vt, layout, e, rows, cols);
        // W + Σ_(i,j)∈M E_ij·u_i·v_jᵀ, one entry at a time.
        var expected = (double[])w.Clone();
        for (int p = 0; p < layout.Count; p++)
            for (int o = 0; o < rows; o++)
                for (int c = 0; c < cols; c++)
                    expected[o * cols + c] += e[p] * ut[layout.Rows[p] * rows + o] * vt[layout.Cols[p] * cols + c];
        Assert.That(MaxRelative(composed, expected), Is.LessThan(Tolerances.Float64ReorderedSumRel));
    }

    [TestCaseSource(nameof(Cases))]
    public void GradientIsTheMaskedFullProduct(int rows, int cols, string spec)
    {
        var (_, ut, vt, layout) = DoubleFactors(rows, cols, spec, seed: 5);
        var g = Uniform(new Random(6), (long)rows * cols);
        var dE = Poisoned<double>(layout.Count);
        SdeMath.Gradient(dE, new double[layout.Active * rows], g, ut, vt, layout, rows, cols);
        // The full a×a product Uᵀ·G·V, then the mask.
        int a = layout.Active;
        var gv = new double[rows * a];
        Gemm.Dense(false, true, g, vt, gv, rows, a, cols, 1.0);            // G·V = G·(Vᵀ)ᵀ
        var full = new double[a * a];
        Gemm.Dense(false, false, ut, gv, full, a, a, rows, 1.0);           // Uᵀ·(G·V)
        var expected = layout.Rows.Zip(layout.Cols, (i, j) => full[i * a + j]).ToArray();
        Assert.That(MaxRelative(dE, expected), Is.LessThan(Tolerances.Float64ReorderedSumRel));
    }

    /// <summary>dL/dE through W' and the LWC quantizer's straight-through definition (<see cref="LwcSurrogate"/>, with
    /// the arg-max/arg-min terms of §7.3), against central differences of L(E) = Σ g ⊙ ŵ(W'(E)).</summary>
    [TestCase(12, 40, 16, 3, "band:1")]
    [TestCase(20, 24, -1, 2, "diag")]
    [TestCase(9, 33, 32, 4, "block:4+band:2")]
    public void GradientThroughTheQuantizerMatchesFiniteDifferences(int rows, int cols, int group, int bits, string spec)
    {
        var shape = new LwcShape(rows, cols, group, bits);
        var (w, ut, vt, layout) = DoubleFactors(rows, cols, spec, seed: rows + cols);
        var rng = new Random(rows * cols);
        var e = Uniform(rng, layout.Count, -0.05, 0.05); // away from 0: the composed W' differs from W
        var u = Uniform(rng, shape.GroupCount, 0, 3);
        var l = Uniform(rng, shape.GroupCount, 0, 3);
        u[0] = -1; // group 0 clips its top, so clipped elements are in the check
        var g = Uniform(rng, shape.Elements);
        var at = new double[layout.Active * rows];
        var composed = new double[w.Length];
        SdeMath.Compose(composed, at, w, ut, vt, layout, e, rows, cols);

        int n = (int)shape.Elements, groups = (int)shape.GroupCount;
        double[] wq = new double[n], codes = new double[n], s = new double[groups], z = new double[groups],
            mx = new double[groups], mn = new double[groups], dW = new double[n], du = new double[groups], dl = new double[groups];
        LwcFakeQuantDouble.Forward(wq, codes, s, z, mx, mn, composed, u, l, shape, MinScale, MaxScale);
        LwcFakeQuantDouble.Backward(dW, du, dl, g, composed, u, l, s, z, mx, mn, shape, MinScale, MaxScale);
        Assert.That(codes.Count(q => q == 0) + codes.Count(q => q == shape.MaxCode), Is.GreaterThan(0), "some codes clip");
        var dE = new double[layout.Count];
        SdeMath.Gradient(dE, new double[layout.Active * rows], dW, ut, vt, layout, rows, cols);

        var surrogate = new LwcSurrogate(shape, composed, u, l, g, MinScale, MaxScale);
        var scratch = new double[w.Length];
        double Loss()
        {
            SdeMath.Compose(scratch, at, w, ut, vt, layout, e, rows, cols);
            return surrogate.Loss(scratch, u, l);
        }
        GradientCheck.Assert(dE, e, Loss, $"dE ({spec})");
    }

    /// <summary>
    /// The diagonal mask is LSI: §7.5 literally — W' = U·diag(S + δ)·Vᵀ rebuilt from the SVD, ∂L/∂δ_j = u_jᵀ·G·v_j
    /// as explicit sums — and SDE with `diag` (W' = W + U·diag(E)·Vᵀ, the masked product) run side by side for
    /// several AdamW steps (lr 1e-2, so δ moves visibly) on L = ‖X·Ŵ'ᵀ − Y‖² through the LWC quantizer, in double:
    /// δ and diag(E) agree at every step (they differ only by the SVD's reconstruction error of W).
    /// </summary>
    [Test]
    public void DiagonalMaskIsLsiStepForStep()
    {
        const int rows = 12, cols = 20, tokens = 7, steps = 6;
        var shape = new LwcShape(rows, cols, 10, 3);
        var (w, ut, vt, layout) = DoubleFactors(rows, cols, "diag", seed: 11);
        var svals = QuantNative.Cpu.Svd.Thin(ToFloat(w), rows, cols).S.Select(v => (double)v).ToArray();
        // W from its (float) factors exactly in double, so U·diag(S)·Vᵀ and W agree to double roundoff.
        int r = layout.Active;
        w = new double[rows * cols];
        for (int j = 0; j < r; j++)
            for (int o = 0; o < rows; o++)
                for (int c = 0; c < cols; c++) w[o * cols + c] += ut[j * rows + o] * svals[j] * vt[j * cols + c];
        var rng = new Random(12);
        var x = Uniform(rng, tokens * cols);
        var y = Uniform(rng, tokens * rows);
        var u = Enumerable.Repeat(4.0, (int)shape.GroupCount).ToArray();
        var l = Enumerable.Repeat(4.0, (int)shape.GroupCount).ToArray();

        var delta = new GradParameter<double>("lsi", new double[r]) { Grad = new double[r] };
        var e = new GradParameter<double>("sde", new double[layout.Count]) { Grad = new double[layout.Count] };
        AdamW<double> Adam(GradParameter<double> p) => new([new AdamWGroup<double> { Parameters = [p], LearningRate = 1e-2, WeightDecay = 0 }]);
        var lsiAdam = Adam(delta);
        var sdeAdam = Adam(e);

        for (int step = 0; step < steps; step++)
        {
            // LSI: W' = U·diag(S + δ)·Vᵀ.
            var lsiW = new double[rows * cols];
            for (int j = 0; j < r; j++)
                for (int o = 0; o < rows; o++)
                    for (int c = 0; c < cols; c++) lsiW[o * cols + c] += ut[j * rows + o] * (svals[j] + delta.Value[j]) * vt[j * cols + c];
            var gLsi = QuantizerGradient(lsiW, shape, u, l, x, y, tokens);
            for (int j = 0; j < r; j++)
            {
                double sum = 0;
                for (int o = 0; o < rows; o++)
                    for (int c = 0; c < cols; c++) sum += ut[j * rows + o] * gLsi[o * cols + c] * vt[j * cols + c];
                delta.Grad![j] = sum;
            }
            // SDE with the diagonal mask.
            var sdeW = new double[rows * cols];
            SdeMath.Compose(sdeW, new double[r * rows], w, ut, vt, layout, e.Value, rows, cols);
            var gSde = QuantizerGradient(sdeW, shape, u, l, x, y, tokens);
            SdeMath.Gradient(e.Grad!, new double[r * rows], gSde, ut, vt, layout, rows, cols);

            Assert.That(MaxRelative(e.Grad!, delta.Grad!), Is.LessThan(Tolerances.SdeVersusLsiRel), $"gradient at step {step}");
            lsiAdam.Step();
            sdeAdam.Step();
            Assert.That(MaxRelative(e.Value, delta.Value), Is.LessThan(Tolerances.SdeVersusLsiRel), $"parameters after step {step}");
        }
        Assert.That(delta.Value.Max(Math.Abs), Is.GreaterThan(1e-3), "the parameters moved");
    }

    /// <summary>dL/dW' for L = ‖X·Ŵᵀ − Y‖², Ŵ = LWC(W'), in double.</summary>
    private static double[] QuantizerGradient(double[] composed, LwcShape shape, double[] u, double[] l, double[] x,
        double[] y, int tokens)
    {
        int n = (int)shape.Elements, groups = (int)shape.GroupCount, rows = shape.Rows, cols = shape.Cols;
        double[] wq = new double[n], codes = new double[n], s = new double[groups], z = new double[groups],
            mx = new double[groups], mn = new double[groups];
        LwcFakeQuantDouble.Forward(wq, codes, s, z, mx, mn, composed, u, l, shape, MinScale, MaxScale);
        var output = new double[tokens * rows];
        Gemm.MatMulTransB<double>(x, wq, output, tokens, rows, cols);
        var dOut = output.Zip(y, (a, b) => 2 * (a - b)).ToArray();
        var dWq = new double[n];
        Gemm.Dense(true, false, dOut, x, dWq, rows, cols, tokens, 1.0); // dOutᵀ·X
        double[] dW = new double[n], du = new double[groups], dl = new double[groups];
        LwcFakeQuantDouble.Backward(dW, du, dl, dWq, composed, u, l, s, z, mx, mn, shape, MinScale, MaxScale);
        return dW;
    }

    /// <summary>Random W and its SVD factors (from LAPACKE, float) widened to double, laid out for the mask.</summary>
    private static (double[] W, double[] Ut, double[] Vt, SdeMaskLayout Layout) DoubleFactors(int rows, int cols,
        string spec, int seed)
    {
        var w = RandomWeights(rows, cols, seed);
        var f = QuantNative.Cpu.Svd.Thin(w, rows, cols);
        var layout = SdeMask.Parse(spec).For(f.Rank, "w");
        var lead = f.Leading(layout.Active);
        return (D(w), D(lead.Ut), D(lead.Vt), layout);
    }

    private static double MaxRelative(double[] actual, double[] expected)
    {
        double scale = expected.Max(Math.Abs);
        return actual.Zip(expected, (a, b) => Math.Abs(a - b)).Max() / scale;
    }
}
