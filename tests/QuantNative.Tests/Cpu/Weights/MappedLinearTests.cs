using NUnit.Framework;
using QuantNative.Cpu.Weights;
using QuantNative.Formats;
using QuantNative.Formats.Safetensors;

namespace QuantNative.Tests.Cpu.Weights;

/// <summary>
/// A linear left in a mapped safetensors file in BF16, F16 or F32 (MappedLinear) against the fp32 GEMM of the same
/// values read out whole (ArrayLinear): the decode path (dot products, 1 and 3 tokens) and the tiled-GEMM path
/// (5 and 300 tokens), on shapes with one row, one column, and a row count that is no multiple of the tiles.
/// </summary>
public class MappedLinearTests
{
    private string _dir = "";
    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, true);

    [TestCase("BF16", 1, 1)]
    [TestCase("BF16", 37, 200)]
    [TestCase("BF16", 3, 17)]
    [TestCase("BF16", 17, 172)]
    [TestCase("BF16", 1100, 300)]
    [TestCase("F16", 17, 3)]
    [TestCase("F16", 1100, 300)]
    [TestCase("F32", 3, 17)]
    [TestCase("F32", 1100, 300)]
    public void ForwardMatchesTheGemmOfTheSameValues(string dtype, int n, int k)
    {
        Check(dtype, n, k);
        if (dtype != "BF16" || !Bf16Dot.UseAvx512) return;
        Bf16Dot.UseAvx512 = false; // the AVX2 kernel too, on a machine that has both
        try
        {
            Check(dtype, n, k);
        }
        finally
        {
            Bf16Dot.UseAvx512 = true;
        }
    }

    private void Check(string dtype, int n, int k)
    {
        var r = new Random(n * 31 + k);
        var values = Enumerable.Range(0, n * k).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        string path = Path.Combine(_dir, "w.safetensors");
        using (var writer = new SafetensorsWriter(path, [new SafetensorsTensorSpec("w", dtype, [n, k])]))
        {
            writer.Write("w", values);
            writer.Commit();
        }
        using var file = SafetensorsFile.Open(path);
        var mapped = new MappedLinear(file.Map("w"), n, k);
        var stored = file.ReadFloats("w");
        var reference = new ArrayLinear("w", stored, n, k);
        Assert.That(mapped.StoredBytes, Is.EqualTo((long)n * k * (dtype == "F32" ? 4 : 2)));
        foreach (int tokens in new[] { 1, 3, 5, 300 })
        {
            var x = Enumerable.Range(0, tokens * k).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            var expected = new float[tokens * n];
            reference.Forward(x, expected, tokens, accumulate: false);
            var actual = Enumerable.Repeat(float.NaN, tokens * n).ToArray();
            mapped.Forward(x, actual, tokens, accumulate: false);
            for (int t = 0; t < tokens; t++)
            for (int o = 0; o < n; o++)
            {
                double scale = 0;
                for (int c = 0; c < k; c++) scale += Math.Abs(x[t * k + c] * stored[o * k + c]);
                Assert.That(Math.Abs(actual[t * n + o] - expected[t * n + o]),
                    Is.LessThanOrEqualTo(Tolerances.Float32ReorderedDotRel * scale + 1e-30), $"{dtype} tokens {tokens} y[{t}, {o}]");
            }
        }
    }

    /// <summary>The BF16 decode path reads rows in place (no conversion pass to check): a NaN weight still stops the
    /// forward with the tensor's name rather than turning every later activation into NaN.</summary>
    [TestCase(0, 0)]
    [TestCase(16, 171)]
    public void ANonFiniteBf16WeightIsReportedByTheDecodePath(int row, int column)
    {
        const int n = 17, k = 172;
        var values = Enumerable.Range(0, n * k).Select(i => (i % 7 - 3) / 8f).ToArray();
        values[row * k + column] = float.PositiveInfinity;
        string path = Path.Combine(_dir, "w.safetensors");
        using (var writer = new SafetensorsWriter(path, [new SafetensorsTensorSpec("w", "BF16", [n, k])]))
        {
            writer.Write("w", values);
            writer.Commit();
        }
        using var file = SafetensorsFile.Open(path);
        var mapped = new MappedLinear(file.Map("w"), n, k);
        var x = Enumerable.Repeat(0.5f, k).ToArray();
        var e = Assert.Throws<QuantNativeException>(() => mapped.Forward(x, new float[n], 1, accumulate: false));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("tensor 'w'").And.Contain($"element {row * k + column}"));
    }

    [Test]
    public void AShapeOtherThanTheTensorsIsRefused()
    {
        string path = Path.Combine(_dir, "w.safetensors");
        using (var writer = new SafetensorsWriter(path, [new SafetensorsTensorSpec("w", "BF16", [4, 6])]))
        {
            writer.Write("w", new float[24]);
            writer.Commit();
        }
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<QuantNativeException>(() => _ = new MappedLinear(file.Map("w"), 6, 4));
        Assert.That(e!.Message, Does.Contain("'w'").And.Contain("[4, 6]").And.Contain("expected [6, 4]"));
    }
}
