using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Tests.Interop;

using QuantNative.Verification;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>
/// kernels/gemm/lowbit_gemv.cu on the emulator against the C# CPU low-bit matmul (LowBitLinear.ForwardCpu: Ŵ
/// dequantized, float32 GEMM), launched directly with the kernel's declared parameter sizes and every output poisoned
/// first; then the same through LowBitDeviceLinear on the emulated runtime, and the shapes the kernel refuses.
/// Tolerance: <see cref="Tolerances.LowBitGemvSumRel"/> of Σ|x·ŵ| per output (+ <see cref="Tolerances.LowBitGemvHalfOutputRel"/>
/// of |y| for fp16 outputs).
/// </summary>
public class LowBitGemvKernelTests : EmulatorTestBase
{
    /// <summary>
    /// M ∈ {1, 3, 8} × W2/W3/W4 × groups 32/64/128/per-channel. K alternates between 512 (every chunk full) and
    /// values that are no multiple of the chunk (264: not of 32/64/128; 200 with group 32: a short last group;
    /// per-channel 328); N is 37 or 61 (no multiple of the 4 columns per block), the output dtype alternates.
    /// </summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        int i = 0;
        foreach (int m in new[] { 1, 3, 8 })
        foreach (int bits in new[] { 2, 3, 4 })
        foreach (int group in new[] { 32, 64, 128, -1 })
        {
            int k = (i % 3) switch
            {
                0 => 512,
                1 => group == -1 ? 328 : 264,
                _ => group == 32 ? 200 : 384,
            };
            if (group > 0 && k < group) k = 512;
            int n = i % 2 == 0 ? 37 : 61;
            var output = i % 2 == 0 ? LowBitOutput.Float32 : LowBitOutput.Float16;
            i++;
            yield return new TestCaseData(m, bits, group, k, n, output)
                .SetName($"LowBit_Gemv_MatchesCpu(M {m}, W{bits}, g {group}, K {k}, N {n}, {output})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Gemv_MatchesCpu(int m, int bits, int group, int k, int n, LowBitOutput output)
    {
        var r = NewRandom();
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, n, k, bits, group, GptqCheckpointFormat.V2));
        var x = LowBitInputs.Activations(r, m, k);
        var expected = new float[m * n];
        linear.ForwardCpu(x, m, expected);
        var actual = RunKernel(linear.Weights, x, m, output);
        AssertClose(linear.Weights, x, m, expected, actual, output);
    }

    /// <summary>Edges: one output column and a single 8-wide K step; K shorter than one W3 chunk with a short last
    /// group; M outside {1, 3, 8}; N a multiple of nothing the launch uses.</summary>
    [TestCase(8, 4, -1, 8, 1)]
    [TestCase(1, 3, 32, 40, 3)]
    [TestCase(5, 2, 128, 512, 130)]
    [TestCase(2, 4, 64, 72, 33)]
    public void Gemv_Edges_MatchCpu(int m, int bits, int group, int k, int n)
    {
        foreach (var output in new[] { LowBitOutput.Float32, LowBitOutput.Float16 })
            Gemv_MatchesCpu(m, bits, group, k, n, output);
    }

    /// <summary>
    /// M = 1 at W4 with K long enough for the fp16-pair body's main loop (two chunks per lane per iteration: every lane
    /// needs K ≥ 2048) and a partial last chunk for its tail (K = 4120: 128 full chunks and 24 more k); groups 128 and
    /// 32, per-channel.
    /// </summary>
    [TestCase(128, 4120, 37)]
    [TestCase(32, 4120, 61)]
    [TestCase(-1, 2056, 9)]
    public void Gemv_W4SingleRow_LongK_MatchesCpu(int group, int k, int n)
    {
        foreach (var output in new[] { LowBitOutput.Float32, LowBitOutput.Float16 })
            Gemv_MatchesCpu(1, 4, group, k, n, output);
    }

    /// <summary>
    /// M = 1 at W2/W3 on the tensor-core body: K over one 2048-k tile of staged x and off the 128-k step (2056, 4104:
    /// a last step of 8 k; at W2 an odd chunk count, so the last step's second chunk is past the column), groups of
    /// 128 and 256 and per-channel, N off the 64 columns of a block (and a warp of columns all past N); a group of 64
    /// takes the two-row body instead (a 128-k step would span two groups).
    /// </summary>
    [TestCase(2, 128, 2056, 70)]
    [TestCase(3, 128, 4104, 37)]
    [TestCase(2, 256, 4104, 129)]
    [TestCase(3, -1, 2056, 9)]
    [TestCase(2, -1, 136, 16)]
    [TestCase(3, 128, 128, 65)]
    [TestCase(3, 64, 392, 21)]
    public void Gemv_W2W3SingleRow_MatchesCpu(int bits, int group, int k, int n)
    {
        foreach (var output in new[] { LowBitOutput.Float32, LowBitOutput.Float16 })
            Gemv_MatchesCpu(1, bits, group, k, n, output);
    }

    [Test]
    public unsafe void Gemv_RefusesUnalignedActivations()
    {
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(NewRandom(), 4, 64, 4, 32, GptqCheckpointFormat.V2));
        using var runtime = new EmulatedCudaRuntime();
        using var device = linear.Upload(runtime);
        var dx = runtime.Allocate(1024);
        try
        {
            var e = Assert.Throws<QuantNativeException>(() => device.Forward(default, dx.Offset(2), 1, LowBitOutput.Float16));
            Assert.That(e!.Message, Does.Contain(LowBitGemvLaunch.KernelF16).And.Contain("16-byte aligned"));
        }
        finally
        {
            runtime.Free(dx);
        }
    }

    [Test]
    public void Gemv_ThroughTheDeviceLinear_OnTheEmulatedRuntime([Values] LowBitOutput output)
    {
        var r = NewRandom();
        const int m = 2, n = 45, k = 136;
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, n, k, 3, 64, GptqCheckpointFormat.V1));
        var x = LowBitInputs.Activations(r, m, k);
        var expected = new float[m * n];
        linear.ForwardCpu(x, m, expected);
        var actual = RunDevice(linear, x, m, output);
        AssertClose(linear.Weights, x, m, expected, actual, output);
    }

    /// <summary>Symmetric groups with negative scales (learned symmetric clipping): the kernel multiplies by the signed
    /// scale as the CPU path does.</summary>
    [TestCase(4, 32)]
    [TestCase(3, 64)]
    public void Gemv_SignedSymmetricScales_MatchCpu(int bits, int group)
    {
        var r = NewRandom();
        const int m = 3, n = 37, k = 256;
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, n, k, bits, group, GptqCheckpointFormat.V2, signedSymmetric: true));
        Assert.That(linear.Weights.Dequantize(), Has.Some.Not.EqualTo(0f));
        var x = LowBitInputs.Activations(r, m, k);
        var expected = new float[m * n];
        linear.ForwardCpu(x, m, expected);
        foreach (var output in new[] { LowBitOutput.Float32, LowBitOutput.Float16 })
            AssertClose(linear.Weights, x, m, expected, RunKernel(linear.Weights, x, m, output), output);
    }

    [Test]
    public void CpuPath_MatchesFloat64StraightLine()
    {
        var r = NewRandom();
        const int m = 3, n = 29, k = 200;
        var packed = LowBitInputs.Packed(r, n, k, 4, 32, GptqCheckpointFormat.V2);
        var w = GptqPacker.Unpack(packed).Dequantize();
        var x = LowBitInputs.Activations(r, m, k);
        var y = new float[m * n];
        LowBitLinear.FromGptq(packed).ForwardCpu(x, m, y);
        LowBitDeviceHarness.AssertCpuMatchesDouble(y, x, w, m, n, k);
    }

    /// <summary>The GEMV's planner refuses M &gt; 8 (LowBitDeviceLinear.Forward sends those to the tensor-core kernel,
    /// tests/QuantNative.Tests/Inference/LowBit/LowBitMmaKernelTests.cs).</summary>
    [Test]
    public void GemvPlan_RefusesMoreThanEightRows()
    {
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(NewRandom(), 8, 64, 4, 32, GptqCheckpointFormat.V2));
        var e = Assert.Throws<QuantNativeException>(() => LowBitGemvLaunch.Plan(LowBitGemvLaunch.KernelF32, linear.Weights, 9));
        Assert.That(e!.Message, Does.Contain(LowBitGemvLaunch.KernelF32).And.Contain("M = 9").And.Contain("W [8, 64]"));
    }

    [TestCase(1, 60, -1, 4, "K = 60 is not a multiple of 8")]
    [TestCase(2, 192, 48, 2, "group length 48 is not a multiple of 32")]
    public void Gemv_RefusesShapesTheKernelDoesNotTake(int m, int k, int group, int bits, string message)
    {
        var r = NewRandom();
        var linear = LowBitLinear.FromGptq(LowBitInputs.Packed(r, 8, k, bits, group, GptqCheckpointFormat.V2));
        using var runtime = new EmulatedCudaRuntime();
        using var device = linear.Upload(runtime);
        var e = Assert.Throws<QuantNativeException>(() => device.Forward(default, default, m, LowBitOutput.Float32));
        Assert.That(e!.Message, Does.Contain(LowBitGemvLaunch.KernelF32).And.Contain(message)
            .And.Contain($"W [8, {k}]"));
        // The CPU path takes every shape.
        var y = new float[m * 8];
        linear.ForwardCpu(LowBitInputs.Activations(r, m, k), m, y);
        Assert.That(y, Has.All.Not.NaN);
    }

    private static float[] RunKernel(LowBitWeights w, Half[] x, int m, LowBitOutput output)
    {
        string kernel = LowBitGemvLaunch.Kernel(output);
        var (grid, block) = LowBitGemvLaunch.Plan(kernel, w, m);
        var g = (grid.X, grid.Y, grid.Z);
        var b = (block.X, block.Y, block.Z);
        var xs = LowBitInputs.Bits(x);
        if (output == LowBitOutput.Float32)
        {
            var y = NaNs(m * w.N);
            Launch(kernel, g, b, 0, y, w.QWeight, w.ScaleZero, xs, m, w.N, w.K, w.GroupLength, w.Bits);
            return y;
        }
        var h = PoisonH(m * w.N);
        Launch(kernel, g, b, 0, h, w.QWeight, w.ScaleZero, xs, m, w.N, w.K, w.GroupLength, w.Bits);
        return h.Select(v => (float)BitConverter.UInt16BitsToHalf(v)).ToArray();
    }

    private static float[] RunDevice(LowBitLinear linear, Half[] x, int m, LowBitOutput output)
    {
        using var runtime = new EmulatedCudaRuntime();
        return LowBitDeviceHarness.Forward(runtime, linear, x, m, output);
    }

    // M = 1 at W4 runs the fp16-pair body (Tolerances.LowBitGemvHalf2SumRel), at W2/W3 (groups of 128 k) the
    // tensor-core body (Tolerances.LowBitGemvMmaSumRel), everything else the float32 one.
    private static void AssertClose(LowBitWeights w, Half[] x, int m, float[] expected, float[] actual, LowBitOutput output)
    {
        if (LowBitGemvLaunch.DotsOnTensorCores(m, w.Bits, w.K, w.GroupLength))
        {
            // The kernel's bound plus the float32 reference's own K·2⁻²⁴.
            LowBitDeviceHarness.AssertMatchesCpu(w, x, m, expected, actual, output,
                Tolerances.LowBitGemvMmaSumRel + w.K * Math.Pow(2, -24), maxK: 8192);
            return;
        }
        bool half2 = LowBitGemvLaunch.SumsInHalf2(m, w.Bits, w.K);
        if (!half2)
        {
            LowBitDeviceHarness.AssertMatchesCpu(w, x, m, expected, actual, output, Tolerances.LowBitGemvSumRel, maxK: 512);
            return;
        }
        // The kernel's bound plus the float32 reference's own K·2⁻²⁴ (Tolerances.LowBitGemvHalf2SumRel).
        LowBitDeviceHarness.AssertMatchesCpu(w, x, m, expected, actual, output,
            Tolerances.LowBitGemvHalf2SumRel + w.K * Math.Pow(2, -24), maxK: 8192, absolute: 11.0 * w.K * Math.Pow(2, -25));
    }
}
