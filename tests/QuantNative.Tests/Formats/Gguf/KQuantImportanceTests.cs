using NUnit.Framework;
using QuantNative.Formats.Gguf;

namespace QuantNative.Tests.Formats.Gguf;

/// <summary>The K-quant searches weighted by a column importance (the calibration inputs' Σx² per column) as llama.cpp's
/// importance-matrix quantizer weights them: a non-uniform importance lowers the error it weights — the error the
/// layer's output sees — below the reference (unweighted) fit's; a uniform one fits about as well as the reference
/// (its weights are llama.cpp's √(σ² + x²) rather than the reference's x², |x| or rms + |x|, so not the same bytes).</summary>
public class KQuantImportanceTests
{
    private static readonly GgmlType[] Types = [GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    private static float[] Normal(int n, Random r) =>
        Enumerable.Range(0, n).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()))).ToArray();

    /// <summary>Activation-like energies: log-normal over two decades, as Σx² of real hidden states spreads.</summary>
    private static float[] Importance(int n, Random r) => Normal(n, r).Select(v => MathF.Exp(1.5f * v)).ToArray();

    private static byte[] Quantize(GgmlType type, float[] row, float[]? importance, KQuants.RangeOf? range = null)
    {
        var (bs, bb) = type.Traits();
        var bytes = new byte[row.Length / bs * bb];
        for (int b = 0; b < row.Length / bs; b++)
            KQuants.Quantize(type, row.AsSpan(b * bs, bs), bytes.AsSpan(b * bb, bb), b * bs, range,
                importance is null ? default : importance.AsSpan(b * bs, bs));
        return bytes;
    }

    private static double WeightedError(GgmlType type, float[] row, byte[] bytes, float[] importance)
    {
        var (bs, bb) = type.Traits();
        var y = new float[row.Length];
        for (int b = 0; b < row.Length / bs; b++) KQuants.Dequantize(type, bytes.AsSpan(b * bb, bb), y.AsSpan(b * bs, bs));
        double e = 0;
        for (int j = 0; j < row.Length; j++) e += importance[j] * (double)(row[j] - y[j]) * (row[j] - y[j]);
        return e;
    }

    private const int Columns = 256 * 4, Rows = 16;

    /// <summary>Σ over 16 random rows of the <paramref name="metric"/>-weighted error of the fit made with
    /// <paramref name="fitWith"/> (null: the reference search).</summary>
    private static double Error(GgmlType type, int seed, float[]? fitWith, float[] metric)
    {
        var r = new Random(seed);
        double sum = 0;
        for (int i = 0; i < Rows; i++)
        {
            var row = Normal(Columns, r);
            sum += WeightedError(type, row, Quantize(type, row, fitWith), metric);
        }
        return sum;
    }

    [Test]
    public void AUniformImportanceFitsAsWellAsTheReference([ValueSource(nameof(Types))] GgmlType type)
    {
        var uniform = GgufExporter.Normalized(Enumerable.Repeat(3.7f, Columns).ToArray(), Columns, "t")!;
        Assert.That(uniform, Is.All.EqualTo(1f), "the exporter scales the importance to a largest value of 1");
        double ratio = Error(type, 11, uniform, uniform) / Error(type, 11, null, uniform);
        TestContext.Out.WriteLine($"{type}: uniform importance, squared error {ratio:F3} of the reference fit's");
        Assert.That(ratio, Is.LessThan(1.05), "a uniform importance is no worse than the reference by more than 5%");
    }

    [Test]
    public void TheWeightedFitLowersTheImportanceWeightedError([ValueSource(nameof(Types))] GgmlType type)
    {
        var importance = GgufExporter.Normalized(Importance(Columns, new Random(5 + (int)type)), Columns, "t")!;
        var uniform = Enumerable.Repeat(1f, Columns).ToArray();
        double weighted = Error(type, 7, importance, importance), reference = Error(type, 7, null, importance),
            ignored = Error(type, 7, uniform, importance);
        TestContext.Out.WriteLine($"{type}: importance-weighted error {weighted / reference:F3} of the reference fit's, " +
                                  $"{weighted / ignored:F3} of a uniform importance's");
        Assert.That(weighted, Is.LessThan(reference));
        // Below the same search with the importance ignored (uniform): the importance itself is what lowers it.
        Assert.That(weighted, Is.LessThan(ignored));
    }

    [Test]
    public void ColumnsNoInputReachedGiveAFiniteFit([ValueSource(nameof(Types))] GgmlType type)
    {
        var r = new Random(3);
        var row = Normal(256, r);
        // Half the columns dead (importance 0), and one sub-block whose only live columns hold zeros.
        var importance = Enumerable.Range(0, 256).Select(j => j % 2 == 0 ? 0f : 1f).ToArray();
        for (int j = 0; j < 16; j++)
        {
            if (importance[j] > 0) row[j] = 0;
        }
        var bytes = Quantize(type, row, importance);
        var y = new float[256];
        KQuants.Dequantize(type, bytes, y);
        Assert.That(y, Has.All.Matches<float>(float.IsFinite));
        // The live columns are fitted at least as well as the unweighted fit fits them.
        Assert.That(WeightedError(type, row, bytes, importance),
            Is.LessThanOrEqualTo(WeightedError(type, row, Quantize(type, row, null), importance)));
    }

    [Test]
    public void TheExporterRefusesANonFiniteImportance()
    {
        var e = Assert.Throws<QuantNativeException>(() => GgufExporter.Normalized([1f, float.NaN], 2, "blk.0.attn_q.weight"));
        Assert.That(e!.Message, Does.Contain("blk.0.attn_q.weight"));
        Assert.That(GgufExporter.Normalized([0f, 0f], 2, "t"), Is.Null, "no column saw input: no importance");
    }
}
