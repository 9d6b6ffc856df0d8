using NUnit.Framework;
using QuantNative.Backends;
using QuantNative.Cpu;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Verification;
using static QuantNative.Tests.Cuda.BackendPair;

namespace QuantNative.Tests.Cuda;

/// <summary>
/// kernels/train/sde.cu and add.cu (the ops the training epochs need for SDE and cross-layer learning) on the
/// emulator against the CPU backend: random inputs of awkward sizes, outputs poisoned before the run.
/// </summary>
public class SdeKernelTests
{
    /// <summary>A mask with one, two and three entries per column (band and block together) over 7 directions.</summary>
    private static SdeMaskLayout Mask() => SdeMask.Parse("band:1+block:3").For(7, "test");

    private static (BackendBuffer<int> Cpu, BackendBuffer<int> Cuda) Ints(BackendPair p, int[] values)
    {
        var (a, b) = (p.Cpu.Allocate<int>(values.Length), p.Cuda.Allocate<int>(values.Length));
        a.Upload(values);
        b.Upload(values);
        return (a, b);
    }

    [TestCase(1)] [TestCase(19)] [TestCase(300)]
    public void Columns_AreBitExact(int rows)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.SdeColumns(p, new Random(rows), rows));
    }

    [TestCase(1)] [TestCase(19)] [TestCase(1000)]
    public void MaskedDots_MatchTheCpu(int rows)
    {
        using var p = new BackendPair();
        AssertAll(TrainingOpCases.SdeMaskedDot(p, new Random(rows + 1), rows));
    }

    [TestCase(17)] [TestCase(1000)]
    public void Add_IsBitExact(int count)
    {
        var r = new Random(count);
        using var p = new BackendPair();
        var dst = p.Random(r, count);
        var src = p.Random(r, count);
        p.Run((b, o) => b.Add(o(dst), o(src), count));
        AssertEqual(dst, "dst");
    }

    [TestCase(1, 1)] [TestCase(3, 17)] [TestCase(17, 300)]
    public void AddBias_IsBitExact_AndAddsTheBiasToEveryRow(int rows, int cols)
    {
        var r = new Random(rows * 1000 + cols);
        using var p = new BackendPair();
        var y = p.Random(r, rows * cols);
        var bias = p.Random(r, cols);
        float[] y0 = y.OnCpu.ToArray(), b0 = bias.OnCpu.ToArray();
        p.Run((b, o) => b.AddBias(o(y), o(bias), rows, cols));
        AssertEqual(y, "y");
        // The broadcast itself: bias[c] into column c of every row, so a row-major/column-major mix-up fails.
        float[] actual = y.OnCpu.ToArray();
        for (int n = 0; n < rows * cols; n++)
            Assert.That(actual[n], Is.EqualTo(y0[n] + b0[n % cols]), $"y[{n / cols}, {n % cols}]");
    }

    [Test]
    public void ShortBuffers_AreRefusedBeforeWork_NamingTheOpAndTensor()
    {
        var m = Mask();
        using var p = new BackendPair();
        foreach (var b in new IBackend[] { p.Cpu, p.Cuda })
        {
            using var ut = b.Allocate<float>(m.Active * 5 - 1);
            using var at = b.Allocate<float>(m.Active * 5);
            using var e = b.Allocate<float>(m.Count);
            using var rows = b.Allocate<int>(m.Count);
            using var starts = b.Allocate<int>(m.Active + 1);
            var x = Assert.Throws<QuantNativeException>(() => b.SdeColumns(at, ut, e, rows, starts, m.Count, m.Active, 5))!;
            Assert.That(x.Message, Does.Contain("sde columns").And.Contain("ut has"));
            var y = Assert.Throws<QuantNativeException>(() => b.Add(at, ut, at.Length))!;
            Assert.That(y.Message, Does.Contain("add").And.Contain("src"));
            using var yb = b.Allocate<float>(5 * (m.Count + 1));
            var z = Assert.Throws<QuantNativeException>(() => b.AddBias(yb, e, 5, m.Count + 1))!;
            Assert.That(z.Message, Does.Contain("add bias [rows 5, cols " + (m.Count + 1)).And
                .Contain($"bias has {m.Count} elements, needs {m.Count + 1}"));
        }
    }
}
