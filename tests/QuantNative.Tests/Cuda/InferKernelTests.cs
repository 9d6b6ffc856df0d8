using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Verification;

namespace QuantNative.Tests.Cuda;

/// <summary>
/// The kernels of the device decode path (kernels/infer/: embedding lookup, f32 → fp16, decode attention over a KV
/// cache, argmax, the dense GEMV and widening of 16-bit weights) on the emulator against their C# references: every case `qn test-backend` runs for them
/// (<see cref="InferenceOpCases"/>, the large ones included: they take about a second here), each with fresh random
/// inputs and poisoned outputs; and a deliberately wrong kernel planted in place of one must fail its cases, so the
/// comparison can fail. CI reruns this fixture under QN_EMU_RACECHECK=1 with a random schedule.
/// </summary>
public class InferKernelTests
{
    private static CudaBackend? s_device;

    private static CudaBackend Device => s_device ??= new CudaBackend(new EmulatedCudaRuntime());

    [OneTimeTearDown]
    public void TearDown()
    {
        s_device?.Dispose();
        s_device = null;
    }

    public static IEnumerable<TestCaseData> Cases() =>
        InferenceOpCases.All().Select(c => new TestCaseData(c.Name).SetName($"{c.Op}: {c.Shape}"));

    [TestCaseSource(nameof(Cases))]
    public void MatchesTheCpuReference(string name)
    {
        var c = InferenceOpCases.All().Single(x => x.Name == name);
        var (result, _) = BackendOpRunner.Run(c, Device, seed: 1);
        Assert.That(result.Error, Is.Null);
        BackendPair.AssertAll(result.Checks);
    }

    /// <summary>Each kernel's output corrupted after it ran (bit 15 of its first 16-bit word: a float's mantissa bit
    /// 2⁻⁸ below its leading one, a half's sign, an index ± 32768) must fail every case of its op: the comparisons
    /// see a one-bit error in one element.</summary>
    [TestCase("embedding-lookup", "qn_embedding_lookup_f32")]
    [TestCase("embedding-lookup-bf16", "qn_embedding_lookup_bf16")]
    [TestCase("embedding-lookup-f16", "qn_embedding_lookup_f16")]
    [TestCase("widen16-bf16", "qn_widen_bf16_f32")]
    [TestCase("widen16-f16", "qn_widen_f16_f32")]
    [TestCase("dense16-gemv-bf16", "qn_dense16_gemv_bf16")]
    [TestCase("dense16-gemv-f16", "qn_dense16_gemv_f16")]
    [TestCase("f32-to-f16", "qn_f32_to_f16")]
    [TestCase("argmax", "qn_argmax_f32")]
    [TestCase("attention-decode", "qn_attention_decode_f32")]
    [TestCase("attention-decode-split", "qn_attention_decode_split_f32")]
    [TestCase("attention-decode-split", "qn_attention_combine_f32")]
    public void ACorruptedOutputFails(string op, string kernel)
    {
        using var device = new CudaBackend(new CorruptingRuntime(new EmulatedCudaRuntime(), kernel));
        foreach (var c in InferenceOpCases.All().Where(c => c.Op == op && !c.Large))
        {
            var (result, _) = BackendOpRunner.Run(c, device, seed: 1);
            Assert.That(result.Passed, Is.False, $"{c.Name} passed with {kernel}'s output corrupted");
        }
    }

    /// <summary>Flips bit 15 of the first 16-bit word of parameter 0 (every infer kernel's output) after a launch of
    /// <paramref name="kernel"/>.</summary>
    private sealed unsafe class CorruptingRuntime(ICudaRuntime inner, string kernel) : ForwardingCudaRuntime(inner)
    {
        public override void Launch(string name, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args)
        {
            base.Launch(name, grid, block, sharedMemBytes, args);
            if (name != kernel) return;
            var output = new DevicePtr(*(ulong*)args.Pointers[0]);
            ushort word;
            CopyDeviceToHost(&word, output, sizeof(ushort));
            word ^= 0x8000;
            CopyHostToDevice(output, &word, sizeof(ushort));
        }
    }
}
