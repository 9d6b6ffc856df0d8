using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Quantization;
using QuantNative.Quantization.LowBit;
using QuantNative.Tests.EmulatorTests;
using QuantNative.Tests.Quantization;

namespace QuantNative.Tests.LowBit;

/// <summary>
/// Act-order (desc_act) GPTQ weights, made by the GPTQ quantizer with ActOrder on correlated calibration inputs:
/// the repack permutes K so groups are contiguous (bit-exact against GptqPacker.Unpack in input-column order), the CPU
/// reference matches a float64 straight-line product with the unpacked matrix, and the device path (x gathered by
/// kernels/gemm/lowbit_gather.cu, then the GEMV at M = 3 or the tensor-core GEMM at M = 17) matches the CPU reference.
/// </summary>
public class LowBitActOrderTests : EmulatorTestBase
{
    private const int N = 40, K = 128, Samples = 256;

    private static PackedGptqLinear ActOrderLayer(Random r, int bits, int group)
    {
        var w = new float[N * K];
        for (int i = 0; i < w.Length; i++) w[i] = 0.05f * (float)(2 * r.NextDouble() - 1);
        var inputs = new CalibrationData.Correlated(r, K);
        var h = CalibrationData.Accumulate(inputs.Sample(r, Samples), Samples, K);
        var q = Gptq.Quantize(w, N, K, h, new QuantizerConfig(bits, group), new GptqOptions { ActOrder = true });
        var natural = QuantizedMatrix.NaturalGroupIndex(new GroupLayout(K, group));
        Assume.That(q.Matrix.GroupIndex, Is.Not.EqualTo(natural), "act-order kept the natural order (an unlucky layer)");
        return GptqPacker.Pack(q.Matrix, GptqCheckpointFormat.V2);
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
        for (int i = 0; i < m; i++)
        for (int o = 0; o < N; o++)
        {
            double sum = 0, abs = 0;
            for (int c = 0; c < K; c++)
            {
                double p = (double)(float)x[i * K + c] * deq[o * K + c];
                sum += p;
                abs += Math.Abs(p);
            }
            Assert.That(y[i * N + o], Is.EqualTo(sum).Within(Tolerances.LowBitGemvSumRel * abs), $"y[{i}, {o}]");
        }
    }

    [TestCase(3, 4, 32, LowBitGemvLaunch.KernelF32)]
    [TestCase(17, 4, 32, LowBitMmaLaunch.KernelF32)]
    [TestCase(17, 3, 64, LowBitMmaLaunch.KernelF32)]
    [TestCase(5, 2, 32, LowBitGemvLaunch.KernelF32)]
    public unsafe void Device_GathersThenMultiplies_MatchesCpu(int m, int bits, int group, string kernel)
    {
        var r = NewRandom();
        var linear = LowBitLinear.FromGptq(ActOrderLayer(r, bits, group));
        var x = LowBitInputs.Activations(r, m, K);
        var expected = new float[m * N];
        linear.ForwardCpu(x, m, expected);

        using var runtime = new RecordingCudaRuntime(new EmulatedCudaRuntime());
        using var device = linear.Upload(runtime);
        var dx = runtime.Allocate(m * K * 2L);
        var dy = runtime.Allocate(m * N * 4L);
        var actual = new float[m * N];
        try
        {
            runtime.Memset(dy, 0xff, m * N * 4L);
            fixed (Half* px = x) runtime.CopyHostToDevice(dx, px, m * K * 2L);
            device.Forward(dy, dx, m, LowBitOutput.Float32);
            device.Forward(dy, dx, m, LowBitOutput.Float32); // again: the scratch buffer is reused
            runtime.Synchronize();
            fixed (float* py = actual) runtime.CopyDeviceToHost(py, dy, m * N * 4L);
        }
        finally
        {
            runtime.Free(dx);
            runtime.Free(dy);
        }
        Assert.That(runtime.Launched,
            Is.EqualTo(new[] { LowBitDeviceLinear.GatherKernel, kernel, LowBitDeviceLinear.GatherKernel, kernel }));

        var deq = linear.Weights.Dequantize();
        double sumRel = m <= LowBitGemvLaunch.MaxM ? Tolerances.LowBitGemvSumRel : Tolerances.LowBitMmaSumRel;
        for (int i = 0; i < m; i++)
        for (int o = 0; o < N; o++)
        {
            double abs = 0;
            for (int c = 0; c < K; c++) abs += Math.Abs((double)(float)x[i * K + c] * deq[o * K + c]);
            Assert.That(float.IsFinite(actual[i * N + o]), $"y[{i}, {o}] unwritten");
            Assert.That(actual[i * N + o], Is.EqualTo(expected[i * N + o]).Within(sumRel * abs), $"y[{i}, {o}]");
        }
    }
}
