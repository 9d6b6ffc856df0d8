using NUnit.Framework;
using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Quantization;
using QuantNative.Quantization.OmniQuant;

namespace QuantNative.Tests.Quantization;

/// <summary>
/// OmniQuant's training epochs on a backend (<see cref="OmniQuantOptions.Backend"/>, <see cref="BackendBlockTraining"/>)
/// against the C# CPU loop of <see cref="OmniQuantizer"/> on stories260K.
/// </summary>
public class OmniQuantBackendTests
{
    private static QuantizedModel Run(int[][] windows, int bits, int group, int epochs, IBackend? backend)
    {
        using var source = StoriesSplit.Open();
        return OmniQuantizer.Run(source, windows, new QuantizerConfig(bits, group), GptqCheckpointFormat.V2,
            new OmniQuantOptions { Epochs = epochs, Backend = backend });
    }

    /// <summary>On the CPU backend the same float operations run in the same order as the CPU loop (the MSE gradient
    /// 2(y − t)/N with N a power of two is the same float either way), so the committed model is bit for bit the
    /// same; only the reported epoch losses differ (<see cref="Tolerances.OmniQuantLossFloatVsDoubleDifferenceRel"/>).</summary>
    [TestCase(3, 32)]
    [TestCase(2, -1)]
    public void OnCpuBackend_EqualsTheCpuLoop(int bits, int group)
    {
        var windows = StoriesSplit.Windows();
        var expected = Run(windows, bits, group, 2, null);
        using var cpu = new CpuBackend();
        var actual = Run(windows, bits, group, 2, cpu);
        for (int b = 0; b < expected.Blocks.Length; b++)
            foreach (var (part, e) in expected.Blocks[b].Linears)
            {
                var a = actual.Blocks[b].Linears[part];
                Assert.That(a.Codes, Is.EqualTo(e.Codes), $"block {b} {part} codes");
                Assert.That(a.Scales, Is.EqualTo(e.Scales), $"block {b} {part} scales");
                Assert.That(a.Zeros, Is.EqualTo(e.Zeros), $"block {b} {part} zeros");
            }
        foreach (var (e, a) in expected.OmniQuant!.Blocks.Zip(actual.OmniQuant!.Blocks))
        {
            const double tol = Tolerances.OmniQuantLossFloatVsDoubleDifferenceRel;
            TestContext.Out.WriteLine($"block {e.Block}: {Math.Abs(a.FirstEpoch - e.FirstEpoch) / e.FirstEpoch:G3}");
            Assert.That(a.FirstEpoch, Is.EqualTo(e.FirstEpoch).Within(tol * e.FirstEpoch), $"block {e.Block}");
            Assert.That(a.LastEpoch, Is.EqualTo(e.LastEpoch).Within(tol * e.LastEpoch), $"block {e.Block}");
            Assert.That(a.Final, Is.EqualTo(e.Final), $"block {e.Block}");
        }
    }

    /// <summary>On the emulated CUDA backend (two windows, one epoch: the emulator runs attention slowly) the
    /// epochs' losses match the CPU loop within <see cref="Tolerances.OmniQuantEpochCudaVsCpuRel"/> and the
    /// committed codes agree except where float rounding moved a value across a rounding boundary.</summary>
    [Test]
    public void OnEmulatedCudaBackend_MatchesTheCpuLoop()
    {
        var windows = StoriesSplit.Windows().Take(2).ToArray();
        var expected = Run(windows, 3, 32, 1, null);
        using var cuda = Backend.Create(DeviceKind.Emulate);
        var actual = Run(windows, 3, 32, 1, cuda);
        long codes = 0, differing = 0;
        for (int b = 0; b < expected.Blocks.Length; b++)
            foreach (var (part, e) in expected.Blocks[b].Linears)
            {
                var a = actual.Blocks[b].Linears[part];
                codes += e.Codes.Length;
                differing += e.Codes.Zip(a.Codes).Count(p => p.First != p.Second);
            }
        TestContext.Out.WriteLine($"{differing} of {codes} codes differ");
        foreach (var (e, a) in expected.OmniQuant!.Blocks.Zip(actual.OmniQuant!.Blocks))
        {
            TestContext.Out.WriteLine($"block {e.Block}: epoch loss cpu {e.FirstEpoch:R} cuda {a.FirstEpoch:R}, " +
                                      $"final cpu {e.Final:R} cuda {a.Final:R}");
            Assert.That(Math.Abs(a.FirstEpoch - e.FirstEpoch), Is.LessThan(Tolerances.OmniQuantEpochCudaVsCpuRel * e.FirstEpoch));
            Assert.That(Math.Abs(a.Final - e.Final), Is.LessThan(Tolerances.OmniQuantEpochCudaVsCpuRel * e.Final));
        }
        Assert.That(differing, Is.LessThanOrEqualTo(Tolerances.OmniQuantCodesCudaVsCpuFraction * codes));
    }
}
