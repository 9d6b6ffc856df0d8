using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Cuda;
using QuantNative.Verification;
using QuantNative.Tests.Interop;

namespace QuantNative.Tests.Cuda;

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
        foreach (var grid in Enum.GetValues<LwcGrid>())
        {
            int cols = g == 100 || k++ % 2 == 1 ? 300 : 256;
            yield return new TestCaseData(r, cols, g, b, grid)
                .SetName($"Lwc_Kernels_MatchReference(rows {r}, cols {cols}, g {g}, W{b} {grid})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Kernels_MatchReference(int rows, int cols, int group, int bits, LwcGrid grid)
    {
        var shape = new LwcShape(rows, cols, group, bits, grid);
        var x = LwcInputs.Create(NewRandom(), shape);
        var clamp = ScaleClamp.Default;
        var expected = LwcOutputs.Reference(x, clamp);
        var actual = Run(x, clamp, LwcLaunch.DefaultThreads(shape));
        AssertMatches(x, expected, actual);
    }

    /// <summary>A seed whose per-channel 8-bit row cancels gs to a small fraction of its terms (the sums' orders
    /// differed by 7e-5 of |du| there): the bound must follow Σ|terms|, and still catch a wrong term.</summary>
    [Test]
    public void Kernels_MatchReference_WhenGsCancels()
    {
        var shape = new LwcShape(3, 300, -1, 8);
        var x = LwcInputs.Create(new Random(841186550), shape);
        var expected = LwcOutputs.Reference(x, ScaleClamp.Default);
        AssertMatches(x, expected, Run(x, ScaleClamp.Default, LwcLaunch.DefaultThreads(shape)));
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
            shape.Rows, shape.Cols, shape.GroupLength, shape.Bits, (int)shape.Grid, clamp.Min, clamp.Max);
        Launch(LwcLaunch.BackwardKernel, grid, block, 0, o.DW, o.Du, o.Dl, x.DWq, x.W, x.U, x.L, o.Scale, o.Zero,
            o.Max, o.Min, shape.Rows, shape.Cols, shape.GroupLength, shape.Bits, (int)shape.Grid, clamp.Min,
            clamp.Max);
        return o;
    }

    internal static void AssertMatches(LwcInputs x, LwcOutputs expected, LwcOutputs actual)
    {
        var checks = LwcComparison.Compare(x, expected, actual);
        foreach (var c in checks) TestContext.Out.WriteLine($"{c.Output}: {c.Error:G3} ({c.Measure}, tolerance {c.Tolerance:G3})");
        var failed = checks.Where(c => !c.Passed).ToList();
        if (failed.Count == 0) return;
        Dump(x, expected, actual);
        Assert.Fail(string.Join("; ", failed.Select(c => $"{c.Output}: {c.Error:G3} {c.Measure} (tolerance {c.Tolerance:G3})")));
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
