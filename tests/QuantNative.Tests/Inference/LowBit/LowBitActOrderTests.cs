using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;
using QuantNative.Tests.Interop;
using QuantNative.Tests.Quantization;

using QuantNative.Verification;

namespace QuantNative.Tests.Inference.LowBit;

/// <summary>
/// Act-order (desc_act) GPTQ weights, made by the GPTQ quantizer with ActOrder on correlated calibration inputs:
/// the repack permutes K so groups are contiguous (bit-exact against GptqPacker.Unpack in input-column order), the CPU
/// reference matches a float64 straight-line product with the unpacked matrix, and the device path (x gathered by
/// kernels/gemm/lowbit_gather.cu, then the GEMV at M = 3 or the tensor-core GEMM at M = 17) matches the CPU reference.
/// </summary>
public class LowBitActOrderTests : EmulatorTestBase
{
    private const int N = 40, K = 128, Samples = 256;

    /// <summary>A layer whose act-order g_idx is not the natural order; an unlucky draw that keeps it is drawn again
    /// (from the same generator, so the seed still reproduces the run), so every case exercises the permutation.</summary>
    private static PackedGptqLinear ActOrderLayer(Random r, int bits, int group)
    {
        const int attempts = 20;
        var natural = QuantizedMatrix.NaturalGroupIndex(new GroupLayout(K, group));
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            var w = new float[N * K];
            for (int i = 0; i < w.Length; i++) w[i] = 0.05f * (float)(2 * r.NextDouble() - 1);
            var inputs = new CalibrationData.Correlated(r, K);
            var h = CalibrationData.Accumulate(inputs.Sample(r, Samples), Samples, K);
            var q = GptqQuantizer.Quantize(w, N, K, h, new QuantizerConfig(bits, group), new GptqOptions { ActOrder = true });
            if (!q.Matrix.GroupIndex.AsSpan().SequenceEqual(natural)) return GptqPacker.Pack(q.Matrix, GptqCheckpointFormat.V2);
        }
        Assert.Fail($"act-order kept the natural order in {attempts} layers in a row");
        return null!;
    }

    [TestCase(4, 32)]
    [TestCase(3, 64)]
    [TestCase(2, 32)]
    public void Repack_BitExact_AndCpuMatchesFloat64(int bits, int group)
    {
        var r = NewRandom();
        var packed = ActOrderLayer(r, bits, group);
        var expected = GptqPacker.Unpack(packed);
        var linear = LowBitLinear.FromGptq(packed);
        Assert.That(linear.Weights.Permutation, Is.Not.Null);
        var back = linear.Weights.ToQuantizedMatrix();
        Assert.That(back.Codes, Is.EqualTo(expected.Codes), "codes");
        Assert.That(back.GroupIndex, Is.EqualTo(expected.GroupIndex), "g_idx");
        var deq = expected.Dequantize();
        Assert.That(linear.Weights.Dequantize(), Is.EqualTo(deq), "Ŵ");

        const int m = 3;
        var x = LowBitInputs.Activations(r, m, K);
        var y = new float[m * N];
        linear.ForwardCpu(x, m, y);
        LowBitDeviceHarness.AssertCpuMatchesDouble(y, x, deq, m, N, K);
    }

    [TestCase(3, 4, 32, LowBitGemvLaunch.KernelF32)]
    [TestCase(17, 4, 32, LowBitMmaLaunch.KernelF32)]
    [TestCase(17, 3, 64, LowBitMmaLaunch.KernelF32)]
    [TestCase(5, 2, 32, LowBitGemvLaunch.KernelF32)]
    public void Device_GathersThenMultiplies_MatchesCpu(int m, int bits, int group, string kernel)
    {
        var r = NewRandom();
        var linear = LowBitLinear.FromGptq(ActOrderLayer(r, bits, group));
        var x = LowBitInputs.Activations(r, m, K);
        var expected = new float[m * N];
        linear.ForwardCpu(x, m, expected);

        using var runtime = new RecordingCudaRuntime(new EmulatedCudaRuntime());
        // Twice: the second forward reuses the gather's scratch buffer.
        var actual = LowBitDeviceHarness.Forward(runtime, linear, x, m, LowBitOutput.Float32, repeats: 2);
        Assert.That(runtime.Launched,
            Is.EqualTo(new[] { LowBitDeviceLinear.GatherKernel, kernel, LowBitDeviceLinear.GatherKernel, kernel }));
        LowBitDeviceHarness.AssertMatchesCpu(linear.Weights, x, m, expected, actual, LowBitOutput.Float32,
            LowBitDeviceHarness.SumRelFor(m), maxK: 256);
    }
}
