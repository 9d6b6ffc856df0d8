using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Tests.Interop;

using QuantNative.Verification;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>
/// kernels/gemm/lowbit_mma.cu (the tensor-core low-bit GEMM) on the emulator against the C# CPU low-bit matmul
/// (LowBitLinear.ForwardCpu), launched directly with the kernel's declared parameter sizes and every output poisoned
/// first; the dispatch of LowBitDeviceLinear.Forward (M ≤ 8 → GEMV, M &gt; 8 → this kernel) on the emulated runtime; and
/// the shapes the kernel refuses. Tolerance: <see cref="Tolerances.LowBitMmaSumRel"/> of Σ|x·ŵ| per output
/// (+ <see cref="Tolerances.LowBitGemvHalfOutputRel"/> of |y| for fp16 outputs).
/// </summary>
public class LowBitMmaKernelTests : EmulatorTestBase
{
    /// <summary>
    /// M ∈ {17, 64, 128} (block rows 32, 64, 128) × W2/W3/W4 × groups 32/64/128/per-channel. K alternates between 256
    /// (every 64-k stage full) and values that are no multiple of the stage (200: a W4 chunk and a W2/W3 half-chunk past
    /// the end, a short last group; per-channel 136; 104 with group 32); N is 72 or 130 (a partial 64-column block),
    /// the output dtype alternates.
    /// </summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        int i = 0;
        foreach (int m in new[] { 17, 64, 128 })
        foreach (int bits in new[] { 2, 3, 4 })
        foreach (int group in new[] { 32, 64, 128, -1 })
        {
            int k = (i % 3) switch
            {
                0 => 256,
                1 => group == -1 ? 136 : 200,
                _ => group == 32 ? 104 : 192,
            };
            if (group > 0 && k < group) k = 256;
            int n = i % 2 == 0 ? 72 : 130;
            var output = i % 2 == 0 ? LowBitOutput.Float32 : LowBitOutput.Float16;
            i++;
            yield return new TestCaseData(m, bits, group, k, n, output)
                .SetName($"LowBit_Mma_MatchesCpu(M {m}, W{bits}, g {group}, K {k}, N {n}, {output})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Mma_MatchesCpu(int m, int bits, int group, int k, int n, LowBitOutput output)
    {
        var r = NewRandom();
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, n, k, bits, group, GptqCheckpointFormat.V2));
        var x = LowBitInputs.Activations(r, m, k);
        var expected = new float[m * n];
        linear.ForwardCpu(x, m, expected);
        var actual = RunKernel(linear.Weights, x, m, output);
        AssertClose(linear.Weights, x, m, expected, actual, output);
    }

    /// <summary>Edges: the first M the dispatch sends here (9) and one full m16 tile (16); a single 8-wide K step and
    /// one output column; M one past a block (33, 65, 129: a second block row with one live row); K one 8-vector past
    /// a stage.</summary>
    [TestCase(9, 4, -1, 8, 1)]
    [TestCase(16, 3, 32, 40, 3)]
    [TestCase(33, 2, 64, 72, 65)]
    [TestCase(65, 4, 32, 136, 8)]
    [TestCase(129, 3, 128, 128, 9)]
    public void Mma_Edges_MatchCpu(int m, int bits, int group, int k, int n)
    {
        foreach (var output in new[] { LowBitOutput.Float32, LowBitOutput.Float16 })
            Mma_MatchesCpu(m, bits, group, k, n, output);
    }

    /// <summary>LowBitDeviceLinear.Forward on the emulated runtime: M = 8 launches the GEMV, M = 9 and 40 the
    /// tensor-core kernel, each matching the CPU reference within its own tolerance.</summary>
    [TestCase(8, LowBitGemvLaunch.KernelF32)]
    [TestCase(9, LowBitMmaLaunch.KernelF32)]
    [TestCase(40, LowBitMmaLaunch.KernelF32)]
    public void DeviceLinear_DispatchesByBatchSize(int m, string kernel)
    {
        var r = NewRandom();
        const int n = 45, k = 136;
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, n, k, 3, 64, GptqCheckpointFormat.V1));
        var x = LowBitInputs.Activations(r, m, k);
        var expected = new float[m * n];
        linear.ForwardCpu(x, m, expected);
        using var runtime = new RecordingCudaRuntime(new EmulatedCudaRuntime());
        var actual = RunDevice(runtime, linear, x, m, LowBitOutput.Float32);
        Assert.That(runtime.Launched, Is.EqualTo(new[] { kernel }));
        Assert.That(LowBitDeviceLinear.KernelFor(m, LowBitOutput.Float32), Is.EqualTo(kernel));
        AssertClose(linear.Weights, x, m, expected, actual, LowBitOutput.Float32, LowBitDeviceHarness.SumRelFor(m));
    }

    [Test]
    public void DeviceLinear_Float16Output_MatchesCpu()
    {
        var r = NewRandom();
        const int m = 24, n = 70, k = 128;
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, n, k, 4, 128, GptqCheckpointFormat.V2));
        var x = LowBitInputs.Activations(r, m, k);
        var expected = new float[m * n];
        linear.ForwardCpu(x, m, expected);
        using var runtime = new RecordingCudaRuntime(new EmulatedCudaRuntime());
        var actual = RunDevice(runtime, linear, x, m, LowBitOutput.Float16);
        Assert.That(runtime.Launched, Is.EqualTo(new[] { LowBitMmaLaunch.KernelF16 }));
        AssertClose(linear.Weights, x, m, expected, actual, LowBitOutput.Float16);
    }

    /// <summary>Split K through LowBitDeviceLinear: the _f32 GEMM into the workspace (grid.z = S), then the reduction
    /// into y; S = 6 > 4 stages leaves some splits without a stage (their partials must be zeros, not poison).</summary>
    [TestCase(2, 17, 4, 64, 200, LowBitOutput.Float32)]
    [TestCase(3, 40, 3, 32, 256, LowBitOutput.Float16)]
    [TestCase(6, 70, 2, -1, 256, LowBitOutput.Float32)]
    [TestCase(4, 129, 4, 128, 256, LowBitOutput.Float16)]
    public void DeviceLinear_SplitK_MatchesCpu(int splits, int m, int bits, int group, int k, LowBitOutput output)
    {
        var r = NewRandom();
        const int n = 72;
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, n, k, bits, group, GptqCheckpointFormat.V2));
        var x = LowBitInputs.Activations(r, m, k);
        var expected = new float[m * n];
        linear.ForwardCpu(x, m, expected);
        using var runtime = new RecordingCudaRuntime(new EmulatedCudaRuntime());
        var actual = RunDevice(runtime, linear, x, m, output, splits);
        Assert.That(runtime.Launched, Is.EqualTo(new[] { LowBitMmaLaunch.KernelF32, LowBitMmaLaunch.Reduce(output) }));
        AssertClose(linear.Weights, x, m, expected, actual, output);
    }

    [TestCase(128, 4096, 4096, 4)]
    [TestCase(128, 11008, 4096, 2)]
    [TestCase(256, 11008, 4096, 1)]
    [TestCase(17, 4096, 4096, 4)]
    [TestCase(128, 4096, 11008, 4)]
    [TestCase(64, 256, 256, 1)]
    [TestCase(9, 64, 1024, 2)]
    public void Splits_BalanceTheBusiestSm(int m, int n, int k, int expected)
    {
        var w = new LowBitWeights
        {
            Bits = 4, K = k, N = n, GroupSize = 128, Symmetric = false, GroupLength = 128, QWeight = [], ScaleZero = [],
        };
        Assert.That(LowBitMmaLaunch.Splits(w, m), Is.EqualTo(expected));
    }

    [Test]
    public void Mma_RefusesUnalignedActivations()
    {
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(NewRandom(), 4, 64, 4, 32, GptqCheckpointFormat.V2));
        using var runtime = new EmulatedCudaRuntime();
        using var device = linear.Upload(runtime);
        var dx = runtime.Allocate(16 * 64 * 2 + 16);
        try
        {
            var e = Assert.Throws<QuantNativeException>(() => device.Forward(default, dx.Offset(2), 16, LowBitOutput.Float16));
            Assert.That(e!.Message, Does.Contain(LowBitMmaLaunch.KernelF16).And.Contain("16-byte aligned"));
        }
        finally
        {
            runtime.Free(dx);
        }
    }

    [TestCase(17, 60, -1, 4, "K = 60 is not a multiple of 8")]
    [TestCase(64, 192, 48, 2, "group length 48 is not a multiple of 32")]
    public void Mma_RefusesShapesTheKernelDoesNotTake(int m, int k, int group, int bits, string message)
    {
        var r = NewRandom();
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, 8, k, bits, group, GptqCheckpointFormat.V2));
        using var runtime = new EmulatedCudaRuntime();
        using var device = linear.Upload(runtime);
        var e = Assert.Throws<QuantNativeException>(() => device.Forward(default, default, m, LowBitOutput.Float32));
        Assert.That(e!.Message, Does.Contain(LowBitMmaLaunch.KernelF32).And.Contain(message)
            .And.Contain($"x [{m}, {k}] · W [8, {k}]"));
    }

    private static float[] RunKernel(LowBitWeights w, Half[] x, int m, LowBitOutput output)
    {
        string kernel = LowBitMmaLaunch.Kernel(output);
        var (grid, block, shared) = LowBitMmaLaunch.Plan(kernel, w, m);
        var g = (grid.X, grid.Y, grid.Z);
        var b = (block.X, block.Y, block.Z);
        var xs = LowBitInputs.Bits(x);
        if (output == LowBitOutput.Float32)
        {
            var y = NaNs(m * w.N);
            Launch(kernel, g, b, shared, y, w.QWeight, w.ScaleZero, xs, m, w.N, w.K, w.GroupLength, w.Bits);
            return y;
        }
        var h = PoisonH(m * w.N);
        Launch(kernel, g, b, shared, h, w.QWeight, w.ScaleZero, xs, m, w.N, w.K, w.GroupLength, w.Bits);
        return h.Select(v => (float)BitConverter.UInt16BitsToHalf(v)).ToArray();
    }

    private static float[] RunDevice(ICudaRuntime runtime, LowBitLinear linear, Half[] x, int m, LowBitOutput output,
        int? splits = null) => LowBitDeviceHarness.Forward(runtime, linear, x, m, output, splits);

    private static void AssertClose(LowBitWeights w, Half[] x, int m, float[] expected, float[] actual, LowBitOutput output,
        double sumRel = Tolerances.LowBitMmaSumRel) =>
        LowBitDeviceHarness.AssertMatchesCpu(w, x, m, expected, actual, output, sumRel, maxK: 256);
}
