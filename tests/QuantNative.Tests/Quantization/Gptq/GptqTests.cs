using NUnit.Framework;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Gptq;
using QuantNative.Tests.Model.Quantized;

namespace QuantNative.Tests.Quantization.Gptq;

public class GptqTests
{
    private const int Rows = 64, Columns = 172, Samples = 1024;

    private sealed record LayerCase(float[] W, float[] X, HessianAccumulator H, float[] HeldOut);

    private static LayerCase Layer(int seed)
    {
        var random = new Random(seed);
        var w = new float[Rows * Columns];
        for (int i = 0; i < w.Length; i++) w[i] = 0.05f * QuantTestData.Gaussian(random);
        var inputs = new CalibrationData.Correlated(random, Columns);
        var x = inputs.Sample(random, Samples);
        return new LayerCase(w, x, CalibrationData.Accumulate(x, Samples, Columns), inputs.Sample(random, Samples));
    }

    private static void AssertSameQuantization(QuantizedMatrix actual, QuantizedMatrix expected, string what)
    {
        Assert.That(actual.Codes, Is.EqualTo(expected.Codes), $"{what}: codes");
        Assert.That(actual.Scales, Is.EqualTo(expected.Scales), $"{what}: scales");
        Assert.That(actual.Zeros, Is.EqualTo(expected.Zeros), $"{what}: zeros");
        Assert.That(actual.GroupIndex, Is.EqualTo(expected.GroupIndex), $"{what}: g_idx");
    }

    // g = 100 makes the second group straddle the end of the first 128-column block; g = 32 divides the block.
    [Test]
    public void OutputErrorIsBelowRtnOnCorrelatedInputs([Values(3, 4, 8)] int bits, [Values(32, 100, -1)] int group,
        [Values(false, true)] bool actOrder) =>
        AssertBeatsRtn(bits, group, new GptqOptions { ActOrder = actOrder });

    /// <summary>
    /// At 2 bits GPTQ's margin over RTN depends on where group parameters come from. Without act-order and with groups
    /// that start inside a block (g = 32), §7.2's fully corrected weights gave 0.92–1.02 of RTN's output error over
    /// eight seeds of this layer (not reliably below), the reference's block-start weights 0.84–0.89; so that case is
    /// tested with block-start parameters. Per-channel and g = 128 start every group on a block boundary, where the
    /// two agree.
    /// </summary>
    [TestCase(-1, false, false)]
    [TestCase(-1, true, false)]
    [TestCase(128, false, false)]
    [TestCase(32, true, false)]
    [TestCase(32, false, true)]
    [TestCase(100, false, true)]
    public void TwoBitOutputErrorIsBelowRtn(int group, bool actOrder, bool blockStart) =>
        AssertBeatsRtn(2, group, new GptqOptions { ActOrder = actOrder, GroupParamsFromBlockStart = blockStart });

    private static void AssertBeatsRtn(int bits, int group, GptqOptions options)
    {
        var (w, x, h, heldOut) = Layer(bits * 100 + group);
        var config = new QuantizerConfig(bits, group);
        var gptq = GptqQuantizer.Quantize(w, Rows, Columns, h, config, options);
        var rtn = Rtn.Quantize(w, Rows, Columns, config);
        double gptqError = CalibrationData.OutputError(x, Samples, w, gptq.Matrix.Dequantize(), Rows, Columns);
        double rtnError = CalibrationData.OutputError(x, Samples, w, rtn.Dequantize(), Rows, Columns);
        // Held out: fresh inputs from the same distribution; GPTQ fitted the distribution, not the calibration noise.
        double gptqHeldOut = CalibrationData.OutputError(heldOut, Samples, w, gptq.Matrix.Dequantize(), Rows, Columns);
        double rtnHeldOut = CalibrationData.OutputError(heldOut, Samples, w, rtn.Dequantize(), Rows, Columns);
        TestContext.Out.WriteLine($"W{bits} g{group} {options}: GPTQ/RTN output error {gptqError / rtnError:F3} " +
                                  $"(held out {gptqHeldOut / rtnHeldOut:F3}), weight error {gptq.RelativeError:G3}");
        Assert.That(gptqError, Is.LessThan(rtnError), "calibration inputs");
        Assert.That(gptqHeldOut, Is.LessThan(rtnHeldOut), "held-out inputs");
    }

    [TestCase(128, 128, false)]
    [TestCase(128, 128, true)]
    [TestCase(-1, 128, false)]
    [TestCase(64, 32, false)]
    [TestCase(128, 64, true)]
    public void BlockStartParametersAgreeWhenGroupsStartOnBlockBoundaries(int group, int blockSize, bool actOrder)
    {
        // g a multiple of the block size: every group starts where a block starts, when the block-start weights are the
        // current weights.
        var (w, _, acc, _) = Layer(group + blockSize);
        var h = acc.Hessian();
        var config = new QuantizerConfig(3, group);
        var current = GptqQuantizer.Quantize(w, Rows, Columns, h, config, new GptqOptions { ActOrder = actOrder, BlockSize = blockSize });
        var blockStart = GptqQuantizer.Quantize(w, Rows, Columns, h, config,
            new GptqOptions { ActOrder = actOrder, BlockSize = blockSize, GroupParamsFromBlockStart = true });
        AssertSameQuantization(blockStart.Matrix, current.Matrix, $"g{group} block {blockSize}");
    }

    [Test]
    public void BlockStartParametersDifferWhenAGroupStartsInsideABlock()
    {
        // The guard on the test above: the option is wired. Group 0 starts the first block (same parameters); group 1
        // starts at column 32, inside it, after 32 columns of in-block feedback that only the literal §7.2 reading sees.
        var (w, _, acc, _) = Layer(5);
        var h = acc.Hessian();
        var config = new QuantizerConfig(3, 32);
        var current = GptqQuantizer.Quantize(w, Rows, Columns, h, config, new GptqOptions { GroupParamsFromBlockStart = false }).Matrix;
        var blockStart = GptqQuantizer.Quantize(w, Rows, Columns, h, config).Matrix; // the default
        bool SameScales(int g) => Enumerable.Range(0, Rows).All(r => current.Scales[r * current.Groups + g] == blockStart.Scales[r * current.Groups + g]);
        Assert.That(SameScales(0), Is.True, "group 0");
        Assert.That(SameScales(1), Is.False, "group 1");
    }

    [Test]
    public void LossIsHalfTheDampedQuadraticFormOfTheFinalError([Values(2, 4)] int bits, [Values(32, 100)] int group,
        [Values(false, true)] bool actOrder)
    {
        // Each OBS step raises δ·H·δᵀ by exactly (w − q)²/U_jj² when the remaining columns get the optimal update, so
        // GPTQ's loss equals ½·Σ δ·H_damped·δᵀ of the final error. Wrong feedback (sign, rows of U, the block push)
        // breaks the equality.
        var (w, _, acc, _) = Layer(bits + group);
        var h = acc.Hessian();
        var result = GptqQuantizer.Quantize(w, Rows, Columns, h, new QuantizerConfig(bits, group),
            new GptqOptions { ActOrder = actOrder });
        double mean = Enumerable.Range(0, Columns).Average(i => h[i * Columns + i]);
        for (int i = 0; i < Columns; i++) h[i * Columns + i] += 0.01 * mean;
        double quadratic = CalibrationData.HalfQuadraticForm(h, w, result.Matrix.Dequantize(), Rows, Columns);
        TestContext.Out.WriteLine($"loss {result.Loss:G8}, ½δHδᵀ {quadratic:G8}, relative {Math.Abs(result.Loss / quadratic - 1):G3}");
        Assert.That(result.Loss, Is.EqualTo(quadratic).Within(Tolerances.GptqLossVsQuadraticFormRel * quadratic));
    }

    [Test]
    public void IdentityHessianGivesRtnBitForBit([Values(2, 3, 4, 8)] int bits, [Values(false, true)] bool symmetric,
        [Values(32, 100, 128, -1)] int group, [Values(false, true)] bool actOrder)
    {
        // X = Hadamard columns: XᵀX = n·I exactly, H = 2·I, damped H = 2.02·I, and U is exactly diagonal. With no
        // off-diagonal entry in U, err·U[j, k] is 0 for every later column: nothing is fed back, every group's
        // parameters come from the original weights, and each column is rounded on its own — which is RTN. Equal H_ii
        // leave act-order's (stable) order natural.
        var random = new Random(bits * 7 + group);
        var w = QuantTestData.Weights(random, 17, Columns);
        var x = CalibrationData.OrthogonalColumns(256, Columns, Enumerable.Repeat(1f, Columns).ToArray());
        var config = new QuantizerConfig(bits, group, symmetric);
        var result = GptqQuantizer.Quantize(w, 17, Columns, CalibrationData.Accumulate(x, 256, Columns), config,
            new GptqOptions { ActOrder = actOrder });
        AssertSameQuantization(result.Matrix, Rtn.Quantize(w, 17, Columns, config), "GPTQ with H ∝ I");
        if (actOrder) Assert.That(result.Permutation, Is.EqualTo(Enumerable.Range(0, Columns)));
    }

    /// <summary>Distinct exact scales 1 + k/256 for a diagonal Hessian with distinct H_ii.</summary>
    private static float[] DistinctScales(Random random, int columns)
    {
        var k = Enumerable.Range(0, 256).ToArray();
        random.Shuffle(k);
        return k.Take(columns).Select(v => 1f + v / 256f).ToArray();
    }

    [Test]
    public void DiagonalHessianWithActOrderIsRtnOfThePermutedMatrix([Values(3, 4)] int bits, [Values(32, 100)] int group)
    {
        // Diagonal H still feeds nothing back, so act-order without static groups is RTN applied to the columns in
        // descending-H_ii order; this pins down the permutation, the per-position groups and g_idx exactly.
        var random = new Random(bits + group);
        var w = QuantTestData.Weights(random, 17, Columns);
        var scales = DistinctScales(random, Columns);
        var x = CalibrationData.OrthogonalColumns(256, Columns, scales);
        var config = new QuantizerConfig(bits, group);
        var result = GptqQuantizer.Quantize(w, 17, Columns, CalibrationData.Accumulate(x, 256, Columns), config,
            new GptqOptions { ActOrder = true });

        var perm = Enumerable.Range(0, Columns).OrderByDescending(c => scales[c]).ToArray();
        Assert.That(result.Permutation, Is.EqualTo(perm));
        var permuted = new float[w.Length];
        for (int r = 0; r < 17; r++)
        for (int j = 0; j < Columns; j++)
            permuted[r * Columns + j] = w[r * Columns + perm[j]];
        var rtn = Rtn.Quantize(permuted, 17, Columns, config);
        var m = result.Matrix;
        Assert.That(m.Scales, Is.EqualTo(rtn.Scales), "scales of the groups in quantization order");
        Assert.That(m.Zeros, Is.EqualTo(rtn.Zeros));
        for (int j = 0; j < Columns; j++)
        {
            Assert.That(m.GroupIndex[perm[j]], Is.EqualTo(j / group), $"g_idx of column {perm[j]} (position {j})");
            for (int r = 0; r < 17; r++)
                Assert.That(m.Codes[r * Columns + perm[j]], Is.EqualTo(rtn.Codes[r * Columns + j]), $"code [{r}, {perm[j]}]");
        }
        Assert.That(m.HasNaturalGroupOrder(), Is.False);
    }

    [Test]
    public void DiagonalHessianWithActOrderAndStaticGroupsIsRtn([Values(3, 4)] int bits, [Values(32, 100, -1)] int group)
    {
        // Static groups take their parameters from the natural-order weights before anything is quantized; with no
        // feedback the order of quantization is then irrelevant and the result is RTN, natural g_idx included.
        var random = new Random(bits * 3 + group);
        var w = QuantTestData.Weights(random, 17, Columns);
        var x = CalibrationData.OrthogonalColumns(256, Columns, DistinctScales(random, Columns));
        var config = new QuantizerConfig(bits, group);
        var result = GptqQuantizer.Quantize(w, 17, Columns, CalibrationData.Accumulate(x, 256, Columns), config,
            new GptqOptions { ActOrder = true, StaticGroups = true });
        Assert.That(result.Permutation, Is.Not.EqualTo(Enumerable.Range(0, Columns)), "the order must actually change");
        AssertSameQuantization(result.Matrix, Rtn.Quantize(w, 17, Columns, config), "static groups, diagonal H");
    }

    [Test]
    public void ActOrderGivesAValidPermutationAndGroupIndex([Values(32, 100, -1)] int group, [Values(false, true)] bool staticGroups)
    {
        var (w, x, acc, _) = Layer(group + (staticGroups ? 1 : 0));
        var h = acc.Hessian();
        var config = new QuantizerConfig(4, group);
        var result = GptqQuantizer.Quantize(w, Rows, Columns, acc, config, new GptqOptions { ActOrder = true, StaticGroups = staticGroups });
        var perm = result.Permutation!;
        Assert.That(perm.Order(), Is.EqualTo(Enumerable.Range(0, Columns)), "a permutation of the columns");
        for (int j = 1; j < Columns; j++)
            Assert.That(h[perm[j] * Columns + perm[j]], Is.LessThanOrEqualTo(h[perm[j - 1] * Columns + perm[j - 1]]),
                "descending H_ii");
        var layout = config.Layout(Columns);
        var gIdx = result.Matrix.GroupIndex;
        for (int j = 0; j < Columns; j++)
            Assert.That(gIdx[perm[j]], Is.EqualTo(staticGroups ? perm[j] / layout.Length : j / layout.Length));
        var sizes = gIdx.GroupBy(g => g).OrderBy(g => g.Key).Select(g => g.Count());
        Assert.That(sizes, Is.EqualTo(Enumerable.Range(0, layout.Groups).Select(layout.LengthOf)), "members per group");
        Assert.That(result.Matrix.HasNaturalGroupOrder(), Is.EqualTo(staticGroups || group == -1));

        var rtn = Rtn.Quantize(w, Rows, Columns, config);
        Assert.That(CalibrationData.OutputError(x, Samples, w, result.Matrix.Dequantize(), Rows, Columns),
            Is.LessThan(CalibrationData.OutputError(x, Samples, w, rtn.Dequantize(), Rows, Columns)));
    }

    [Test]
    public void GroupParametersSeeTheErrorsOfTheCurrentBlock([Values(16, 100)] int group)
    {
        // One block of all columns against blocks of 32: the lazy block update is only a reordering of the same
        // sums, so every group's parameters agree to float rounding — including groups that straddle a block end,
        // whose parameters need this block's errors applied on the fly. Without them the scales differ by percent.
        var (w, _, acc, _) = Layer(group);
        var h = acc.Hessian();
        var config = new QuantizerConfig(3, group);
        var blocked = GptqQuantizer.Quantize(w, Rows, Columns, h, config, new GptqOptions { BlockSize = 32, GroupParamsFromBlockStart = false }).Matrix;
        var single = GptqQuantizer.Quantize(w, Rows, Columns, h, config, new GptqOptions { BlockSize = Columns, GroupParamsFromBlockStart = false }).Matrix;
        for (int i = 0; i < single.Scales.Length; i++)
            Assert.That(blocked.Scales[i], Is.EqualTo(single.Scales[i]).Within(Tolerances.GptqBlockingScaleRel * single.Scales[i]),
                $"scale of row {i / single.Groups}, group {i % single.Groups}");
        int differing = blocked.Codes.Zip(single.Codes).Count(p => p.First != p.Second);
        double worst = single.Scales.Zip(blocked.Scales).Max(p => Math.Abs(p.First / p.Second - 1));
        TestContext.Out.WriteLine($"g{group}: worst relative scale difference {worst:G3}, {differing} of {single.Codes.Length} codes differ");
        Assert.That(differing, Is.LessThanOrEqualTo(blocked.Codes.Length / 200), "codes that moved across a rounding boundary");
    }

    [Test]
    public void DeadInputsGetZeroWeight()
    {
        var (w, x, _, _) = Layer(11);
        foreach (int dead in new[] { 5, 130 })
            for (int r = 0; r < Samples; r++) x[r * Columns + dead] = 0f;
        var result = GptqQuantizer.Quantize(w, Rows, Columns, CalibrationData.Accumulate(x, Samples, Columns), new QuantizerConfig(4, 32));
        Assert.That(result.DeadColumns, Is.EqualTo(2));
        var deq = result.Matrix.Dequantize();
        for (int r = 0; r < Rows; r++)
        {
            Assert.That(deq[r * Columns + 5], Is.EqualTo(0f));
            Assert.That(deq[r * Columns + 130], Is.EqualTo(0f));
        }
        Assert.That(result.RelativeError, Is.GreaterThan(0).And.LessThan(1));
    }

    [Test]
    public void RelativeErrorIsTheFrobeniusRatio()
    {
        var (w, _, acc, _) = Layer(12);
        var result = GptqQuantizer.Quantize(w, Rows, Columns, acc, new QuantizerConfig(2, 32));
        var deq = result.Matrix.Dequantize();
        double num = w.Zip(deq).Sum(p => Math.Pow(p.First - (double)p.Second, 2)), den = w.Sum(v => (double)v * v);
        Assert.That(result.RelativeError, Is.EqualTo(Math.Sqrt(num / den)).Within(1e-12));
    }

    [Test]
    public void RejectsBadInput()
    {
        var (w, _, acc, _) = Layer(13);
        var config = new QuantizerConfig(4, 32);
        Assert.That(() => GptqQuantizer.Quantize(w, Rows, Columns, new double[10], config, tensor: "blk.2.wq"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("blk.2.wq").And.Message.Contains("[172, 172]"));
        Assert.That(() => GptqQuantizer.Quantize(w.AsSpan(0, Rows * 100), Rows, 100, acc, config, tensor: "blk.2.wk"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("blk.2.wk").And.Message.Contains("172"));
        Assert.That(() => GptqQuantizer.Quantize(w, Rows, Columns, acc, config, new GptqOptions { BlockSize = 0 }),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("block size"));
        Assert.That(() => GptqQuantizer.Quantize(w, Rows, Columns, acc, config, new GptqOptions { DampPercent = -0.1 }),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("dampening"));
        var nanH = acc.Hessian();
        nanH[3] = double.NaN;
        Assert.That(() => GptqQuantizer.Quantize(w, Rows, Columns, nanH, config),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("NaN"));
        // Indefinite and undamped: the Cholesky factorization fails at the second pivot.
        Assert.That(() => GptqQuantizer.Quantize(new float[] { 1, 2, 3, 4 }, 2, 2, new double[] { 1, 2, 2, 1 }, new QuantizerConfig(4),
                new GptqOptions { DampPercent = 0 }, "blk.9.wv"),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("LAPACKE_dpotrf").And.Message.Contains("info = 2")
                .And.Message.Contains("blk.9.wv"));
    }
}
