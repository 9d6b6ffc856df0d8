using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Quantization.Lwc;
using QuantNative.Tests.EmulatorTests;

namespace QuantNative.Tests.Lwc;

/// <summary>
/// kernels/quant/fakequant_lwc.cu on the emulator against the C# reference (LwcFakeQuant), launched directly with the
/// kernels' declared parameter sizes, every output poisoned first: codes, ŵ and the saved state bit-exact; dW exact
/// except on tied max/min elements; du, dl and those within <see cref="Tolerances.LwcGradientRel"/>.
/// </summary>
public class LwcKernelTests : EmulatorTestBase
{
    private static readonly int[] Rows = [1, 3, 17, 172];
    private static readonly int[] Groups = [32, 64, 128, -1, 100];
    private static readonly int[] Bits = [2, 3, 4, 8];

    /// <summary>Every rows × group × bits combination; the row length alternates between 256 (32/64/128 divide it)
    /// and 300 (no group size of the table divides it: shorter last groups), and per-channel rows of 300.</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        int k = 0;
        foreach (int r in Rows)
        foreach (int g in Groups)
        foreach (int b in Bits)
        {
            int cols = g == 100 || k++ % 2 == 1 ? 300 : 256;
            yield return new TestCaseData(r, cols, g, b).SetName($"Lwc_Kernels_MatchReference(rows {r}, cols {cols}, g {g}, W{b})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Kernels_MatchReference(int rows, int cols, int group, int bits)
    {
        var shape = new LwcShape(rows, cols, group, bits);
        var x = LwcInputs.Create(NewRandom(), shape);
        var clamp = ScaleClamp.Default;
        var expected = LwcOutputs.Reference(x, clamp);
        var actual = Run(x, clamp, LwcLaunch.DefaultThreads(shape));
        AssertMatches(x, expected, actual);
    }

    [TestCase(32)]
    [TestCase(96)]
    [TestCase(1024)]
    public void Kernels_AnyBlockSize_SameResult(int threads)
    {
        var shape = new LwcShape(5, 700, 300, 3);
        var x = LwcInputs.Create(NewRandom(), shape);
        var expected = LwcOutputs.Reference(x, ScaleClamp.Default);
        AssertMatches(x, expected, Run(x, ScaleClamp.Default, threads));
    }

    [Test]
    public void Kernels_TakeTheClampBoundsAsArguments()
    {
        // A lower bound of 1e-2 clamps every group of these weights: the kernel must use the argument, not 1e-5.
        var shape = new LwcShape(3, 128, 64, 4);
        var x = LwcInputs.Create(NewRandom(), shape, special: false);
        for (int i = 0; i < x.W.Length; i++) x.W[i] *= 1e-3f;
        var clamp = new ScaleClamp(1e-2f, 1e4f);
        var expected = LwcOutputs.Reference(x, clamp);
        Assert.That(expected.Scale, Is.All.EqualTo(1e-2f));
        Assert.That(expected.Du, Is.All.Zero);
        AssertMatches(x, expected, Run(x, clamp, 64));
    }

    private static LwcOutputs Run(LwcInputs x, ScaleClamp clamp, int threads)
    {
        var shape = x.Shape;
        var o = LwcOutputs.Poisoned(shape);
        var grid = ((uint)shape.GroupCount, 1u, 1u);
        var block = ((uint)threads, 1u, 1u);
        Launch(LwcLaunch.ForwardKernel, grid, block, 0, o.Wq, o.Codes, o.Scale, o.Zero, o.Max, o.Min, x.W, x.U, x.L,
            shape.Rows, shape.Cols, shape.GroupLength, shape.Bits, clamp.Min, clamp.Max);
        Launch(LwcLaunch.BackwardKernel, grid, block, 0, o.DW, o.Du, o.Dl, x.DWq, x.W, x.U, x.L, o.Scale, o.Zero,
            o.Max, o.Min, shape.Rows, shape.Cols, shape.GroupLength, shape.Bits, clamp.Min, clamp.Max);
        return o;
    }

    internal static void AssertMatches(LwcInputs x, LwcOutputs expected, LwcOutputs actual)
    {
        var shape = x.Shape;
        try
        {
            Assert.That(actual.Codes, Is.EqualTo(expected.Codes), "codes (bit-exact)");
            Assert.That(actual.Wq, Is.EqualTo(expected.Wq), "ŵ (bit-exact)");
            Assert.That(actual.Scale, Is.EqualTo(expected.Scale), "scale (bit-exact)");
            Assert.That(actual.Zero, Is.EqualTo(expected.Zero), "zero (bit-exact)");
            Assert.That(actual.Max, Is.EqualTo(expected.Max), "max (bit-exact)");
            Assert.That(actual.Min, Is.EqualTo(expected.Min), "min (bit-exact)");
            AssertClose("du", expected.Du, actual.Du);
            AssertClose("dl", expected.Dl, actual.Dl);
            // dW: the direct part g·[inside] is exact; tied extremes carry a share of the tree-summed gs.
            var tieScale = new List<float>();
            for (int i = 0; i < shape.Elements; i++)
            {
                int p = i / shape.Cols * shape.Groups + shape.Layout.GroupOf(i % shape.Cols);
                bool extreme = x.W[i] == expected.Max[p] || x.W[i] == expected.Min[p];
                if (!extreme)
                    Assert.That(actual.DW[i], Is.EqualTo(expected.DW[i]), $"dW[{i}] (exact: not an extreme)");
                else
                    tieScale.Add(expected.DW[i]);
            }
            double rms = Rms(tieScale);
            for (int i = 0; i < shape.Elements; i++)
                Assert.That(actual.DW[i], Is.EqualTo(expected.DW[i]).Within(Tolerances.LwcGradientRel * (Math.Abs(expected.DW[i]) + rms)),
                    $"dW[{i}]");
        }
        catch (Exception)
        {
            Dump(x, expected, actual);
            throw;
        }
    }

    private static double Rms(IReadOnlyCollection<float> v) =>
        v.Count == 0 ? 0 : Math.Sqrt(v.Sum(a => (double)a * a) / v.Count);

    private static void AssertClose(string name, float[] expected, float[] actual)
    {
        double rms = Rms(expected);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(Tolerances.LwcGradientRel * (Math.Abs(expected[i]) + rms)),
                $"{name}[{i}] (rms {rms:G3})");
    }

    private static void Dump(LwcInputs x, LwcOutputs e, LwcOutputs a)
    {
        string file = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"lwc-dump-{Guid.NewGuid():N}.txt");
        using var wr = new StreamWriter(file);
        wr.WriteLine($"shape {x.Shape}");
        for (int p = 0; p < x.Shape.GroupCount; p++)
            wr.WriteLine($"group {p}: u {x.U[p]:R} l {x.L[p]:R} | s {e.Scale[p]:R}/{a.Scale[p]:R} z {e.Zero[p]}/{a.Zero[p]} " +
                         $"max {e.Max[p]:R}/{a.Max[p]:R} min {e.Min[p]:R}/{a.Min[p]:R} du {e.Du[p]:R}/{a.Du[p]:R} dl {e.Dl[p]:R}/{a.Dl[p]:R}");
        for (int i = 0; i < x.Shape.Elements; i++)
            wr.WriteLine($"{i}: w {x.W[i]:R} g {x.DWq[i]:R} | code {e.Codes[i]}/{a.Codes[i]} wq {e.Wq[i]:R}/{a.Wq[i]:R} dW {e.DW[i]:R}/{a.DW[i]:R}");
        TestContext.Out.WriteLine($"tensors dumped to {file}");
    }
}
