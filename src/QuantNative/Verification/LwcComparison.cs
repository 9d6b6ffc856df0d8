using QuantNative.Backends;
using QuantNative.Cpu;
using static QuantNative.Verification.OpCheck;

namespace QuantNative.Verification;

/// <summary>
/// LWC fake quantization (forward + backward) on a device against the C# reference: codes, ŵ and the saved state
/// bit-exact; dW exact except on tied max/min elements; du, dl and those within <see cref="Tolerances.LwcGradientRel"/>
/// of |expected| + the gradient formula applied to Σ|g·∂ŵ/∂s| (gs is a reordered float sum, accurate relative to its
/// terms' magnitudes, not to |gs|, which at 8 bits cancels to a small fraction of them).
/// </summary>
public static class LwcComparison
{
    /// <summary>Forward then backward on <paramref name="backend"/>, every output poisoned first (NaN; codes 0xEE).</summary>
    public static LwcOutputs Run(IBackend backend, LwcInputs x, ScaleClamp clamp)
    {
        var shape = x.Shape;
        var o = LwcOutputs.Poisoned(shape);
        using var b = new LwcBuffers(backend, shape);
        b.W.Upload(x.W);
        b.U.Upload(x.U);
        b.L.Upload(x.L);
        b.DWq.Upload(x.DWq);
        b.Wq.Upload(o.Wq);
        b.Codes.Upload(o.Codes);
        b.DW.Upload(o.DW);
        b.Du.Upload(o.Du);
        b.Dl.Upload(o.Dl);
        foreach (var s in new[] { b.Saved.Scale, b.Saved.Zero, b.Saved.Max, b.Saved.Min }) s.Upload(o.Scale);
        b.Forward(clamp);
        b.Backward(clamp);
        backend.Synchronize();
        b.Wq.Download(o.Wq);
        b.Codes.Download(o.Codes);
        b.Saved.Scale.Download(o.Scale);
        b.Saved.Zero.Download(o.Zero);
        b.Saved.Max.Download(o.Max);
        b.Saved.Min.Download(o.Min);
        b.DW.Download(o.DW);
        b.Du.Download(o.Du);
        b.Dl.Download(o.Dl);
        return o;
    }

    /// <summary>One check per output; all pass when the device matches the reference as the summary says.</summary>
    public static IReadOnlyList<OpCheck> Compare(LwcInputs x, LwcOutputs expected, LwcOutputs actual)
    {
        var shape = x.Shape;
        var checks = new List<OpCheck>
        {
            BitExact("codes", OpErrors.BitMismatches(actual.Codes, expected.Codes)),
            BitExact("ŵ", OpErrors.BitMismatches(actual.Wq, expected.Wq)),
            BitExact("scale", OpErrors.BitMismatches(actual.Scale, expected.Scale)),
            BitExact("zero", OpErrors.BitMismatches(actual.Zero, expected.Zero)),
            BitExact("max", OpErrors.BitMismatches(actual.Max, expected.Max)),
            BitExact("min", OpErrors.BitMismatches(actual.Min, expected.Min)),
        };
        var (terms, clippedTerms) = GsTermMagnitudes(x, expected);
        // gs reaches du through 1/qmax (asymmetric) or 1/h (symmetric, one side's extreme and factor γ).
        double divisor = shape.Symmetric ? shape.Half : shape.MaxCode;
        int[] maxTies = new int[shape.GroupCount], minTies = new int[shape.GroupCount];
        for (int i = 0; i < shape.Elements; i++)
        {
            int p = GroupIndex(shape, i);
            if (x.W[i] == expected.Max[p]) maxTies[p]++;
            if (x.W[i] == expected.Min[p]) minTies[p]++;
        }
        var duScale = new double[shape.GroupCount];
        var dlScale = new double[shape.GroupCount];
        var dwScale = new double[shape.GroupCount];
        for (int p = 0; p < shape.GroupCount; p++)
        {
            double gamma = LwcFakeQuant.Sigmoid(x.U[p]);
            double beta = shape.Symmetric ? gamma : LwcFakeQuant.Sigmoid(x.L[p]);
            double dx = terms[p] / divisor;
            double dxMin = dx + clippedTerms[p]; // the free minimum's −gs/qmax + gm
            duScale[p] = dx * Math.Max(Math.Abs(expected.Max[p]), shape.Symmetric ? Math.Abs(expected.Min[p]) : 0) * gamma * (1 - gamma);
            dlScale[p] = shape.Symmetric ? 0 : dxMin * Math.Abs(expected.Min[p]) * beta * (1 - beta);
            dwScale[p] = dx * gamma / Math.Max(maxTies[p], 1) + dxMin * beta / Math.Max(minTies[p], 1);
        }
        checks.Add(Scaled("du", expected.Du, actual.Du, i => duScale[i]));
        checks.Add(Scaled("dl", expected.Dl, actual.Dl, i => dlScale[i]));
        // dW: the direct part g·[inside] is exact; tied extremes carry a share of the tree-summed gs.
        int inexact = 0;
        double worstExtreme = 0;
        for (int i = 0; i < shape.Elements; i++)
        {
            int p = GroupIndex(shape, i);
            bool extreme = x.W[i] == expected.Max[p] || x.W[i] == expected.Min[p];
            if (!extreme)
            {
                if (BitConverter.SingleToInt32Bits(actual.DW[i]) != BitConverter.SingleToInt32Bits(expected.DW[i])) inexact++;
            }
            else worstExtreme = Math.Max(worstExtreme, ScaledError(expected.DW[i], actual.DW[i], dwScale[p]));
        }
        checks.Add(BitExact("dW (not an extreme)", inexact));
        checks.Add(new OpCheck("dW (group extremes)", worstExtreme, Tolerances.LwcGradientRel, "|Δ|/(|cpu| + terms' scale)"));
        return checks;
    }

    private static OpCheck Scaled(string name, float[] expected, float[] actual, Func<int, double> scale)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, ScaledError(expected[i], actual[i], scale(i)));
        return new OpCheck(name, worst, Tolerances.LwcGradientRel, "|Δ|/(|cpu| + terms' scale)");
    }

    private static double ScaledError(float expected, float actual, double scale)
    {
        if (!float.IsFinite(actual)) return double.PositiveInfinity;
        double d = Math.Abs(actual - (double)expected);
        return d == 0 ? 0 : d / (Math.Abs(expected) + scale);
    }

    public static int GroupIndex(LwcShape shape, int i) =>
        i / shape.Cols * shape.Groups + shape.Layout.GroupOf(i % shape.Cols);

    /// <summary>Σ |g·∂ŵ/∂s| per group, in double, from the reference's scale and zero (the backward's terms, without
    /// the cancellation): the magnitude a reordering of the float sum gs is accurate relative to; and for the free
    /// minimum Σ |g| over the clipped elements, the terms of its second sum gm (0 otherwise).</summary>
    private static (double[] Gs, double[] Gm) GsTermMagnitudes(LwcInputs x, LwcOutputs e)
    {
        var shape = x.Shape;
        float qmax = shape.MaxCode;
        var sum = new double[shape.GroupCount];
        var clipped = new double[shape.GroupCount];
        for (int i = 0; i < shape.Elements; i++)
        {
            int p = GroupIndex(shape, i);
            float s = e.Scale[p], z = e.Zero[p];
            // Free minimum: z holds m and the code is round((w − m)/s) itself.
            float r = shape.FreeMinimum ? (x.W[i] - z) / s : x.W[i] / s;
            float rr = MathF.Round(r, MidpointRounding.ToEven);
            float c = shape.FreeMinimum ? rr : rr + z;
            bool inside = c >= 0f && c <= qmax;
            float dws = inside ? rr - r : Math.Clamp(c, 0f, qmax) - (shape.FreeMinimum ? 0f : z);
            sum[p] += Math.Abs((double)x.DWq[i] * dws);
            if (shape.FreeMinimum && !inside) clipped[p] += Math.Abs((double)x.DWq[i]);
        }
        return (sum, clipped);
    }
}

/// <summary>LWC cases for `qn test-backend`: rows × group × bits, row lengths that groups divide and that they do
/// not, each clipping grid (zero point, symmetric, free minimum).</summary>
public static class LwcOpCases
{
    public static IEnumerable<OpCase> All()
    {
        const LwcGrid zp = LwcGrid.ZeroPoint, sym = LwcGrid.Symmetric, free = LwcGrid.FreeMinimum;
        foreach (var (rows, cols, group, bits, large, grid) in new[]
                 {
                     (1, 33, 32, 2, false, zp), (3, 256, 32, 4, false, zp), (17, 300, 64, 3, false, zp),
                     (17, 256, -1, 8, false, zp), (172, 300, 100, 3, false, zp), (3, 300, 128, 2, false, zp),
                     (4096, 4096, 128, 4, true, zp), (1024, 11008, 128, 2, true, zp),
                     (3, 256, 32, 4, false, sym), (17, 300, 16, 3, false, sym), (17, 256, -1, 8, false, sym),
                     (4096, 4096, 32, 4, true, sym),
                     (3, 256, 32, 5, false, free), (17, 300, 64, 3, false, free), (17, 256, -1, 8, false, free),
                     (4096, 4096, 32, 5, true, free),
                 })
        {
            var shape = new LwcShape(rows, cols, group, bits, grid);
            yield return new OpCase("fakequant-lwc", shape.ToString(), c =>
            {
                var x = LwcInputs.Create(c.Random, shape);
                var expected = LwcOutputs.Reference(x, ScaleClamp.Default);
                return LwcComparison.Compare(x, expected, LwcComparison.Run(c.Device, x, ScaleClamp.Default));
            }, large);
        }
    }
}
