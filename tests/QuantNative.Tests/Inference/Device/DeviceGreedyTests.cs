using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Inference;
using QuantNative.Inference.Device;
using QuantNative.Inference.LowBit;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Sequential;
using QuantNative.Tests.Quantization;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Inference.Device;

/// <summary>
/// Issue 15's acceptance: `qn generate --device emulate`'s engine (<see cref="DeviceInferenceSession"/> through
/// <see cref="TextGenerator"/>, every step on the emulated device) gives the CPU engine's greedy tokens (its low-bit
/// decode on float32 activations, <see cref="DecodeActivations.Float32"/>) on stories260K
/// fp32, on W4 g32 quantizations of it made here (RTN; GPTQ with act-order, which adds the device gather), and on every
/// synthetic family (Llama 3's RoPE scaling, Mistral's sliding window of 48 — the 40-token prompt plus 24 tokens passes
/// it —, Qwen2's biases, Qwen3's q/k norms), as stored (BF16) and as RTN W4 g32 made here. The prompt is prefilled in one pass (M = 40: the tensor-core kernel for
/// low-bit linears), then each token decoded (M = 1: the GEMV). Equality is the bar: a step where the engines choose
/// differently passes only if the CPU's own logits there are a near-tie (<see cref="Tolerances.DeviceGreedyNearTieLogit"/>),
/// and the comparison stops at that step (the sequences differ after it).
/// </summary>
public class DeviceGreedyTests
{
    private const int PromptTokens = 40, Generated = 24;

    [Test]
    public void Stories260K_Fp32()
    {
        using var model = InferenceModel.Open(ModelLoader.Open(TestPaths.Stories260K));
        AssertSameGreedyTokens(model, StoriesSplit.EvalTokens[..PromptTokens], "stories260K fp32");
    }

    [TestCase("rtn", false)]
    [TestCase("gptq", true)]
    public void Stories260K_W4G32(string method, bool actOrder)
    {
        var q = StoriesSplit.Quantize(method, 4, 32, GptqCheckpointFormat.V2, actOrder);
        using var model = InferenceModel.From(q.Model);
        var placement = AssertSameGreedyTokens(model, StoriesSplit.EvalTokens[..PromptTokens], $"stories260K {method} W4 g32");
        // q/k/v/o/gate/up of 5 layers on the low-bit kernel; down_proj (K = 172) dequantized through cuBLAS.
        Assert.That(placement.OnLowBitKernel, Is.EqualTo(30));
        Assert.That(placement.Dense.Select(d => d.Part).Distinct(), Is.EqualTo(new[] { BlockLinears.Down }));
    }

    [TestCaseSource(typeof(SyntheticFamilies), nameof(SyntheticFamilies.All))]
    public void SyntheticFamily(string family)
    {
        using var model = InferenceModel.Open(ModelLoader.Open(SyntheticFamilies.Dir(family)));
        var device = AssertSameGreedyTokens(model, SyntheticFamilies.Tokens(family)[..PromptTokens], family);
        // The checkpoints are BF16: every dense product and the head read 2 bytes per weight on the device, as stored
        // (the prompt's 40 tokens through widened slices and Sgemm, each decoded token through the dense GEMV).
        var c = model.Config;
        long weights = 0;
        foreach (var l in BlockLinears.All) weights += (long)l.Shape(c).Rows * l.Shape(c).Columns * c.NumLayers;
        weights += (long)c.VocabSize * c.HiddenSize;
        Assert.That(device.WeightBytesPerToken, Is.EqualTo(2 * weights));
        Assert.That(device.Placement(), Does.Contain("BF16 weights as stored"));
    }

    /// <summary>RTN W4 g32 of the family (every block linear on the low-bit kernel: the shapes are multiples of 32),
    /// with Qwen2's biases and Qwen3's q/k norms after low-bit products and Mistral's window over them.</summary>
    [TestCaseSource(typeof(SyntheticFamilies), nameof(SyntheticFamilies.All))]
    public void SyntheticFamily_RtnW4G32(string family)
    {
        QuantizedModel q;
        using (var source = ModelLoader.Open(SyntheticFamilies.Dir(family)))
            q = SequentialQuantizer.Run(source, null, new RtnLayerQuantizer(), new QuantizerConfig(4, 32),
                GptqCheckpointFormat.V2).Model;
        using var model = InferenceModel.From(q);
        var placement = AssertSameGreedyTokens(model, SyntheticFamilies.Tokens(family)[..PromptTokens], family + " RTN W4 g32");
        Assert.That(placement.OnLowBitKernel, Is.EqualTo(7 * model.Config.NumLayers));
    }

    /// <summary>The CPU engine's greedy ids with the margin of each step's choice (best − second logit), then the
    /// device engine's through TextGenerator, compared step by step.</summary>
    private static DeviceModel AssertSameGreedyTokens(InferenceModel model, int[] prompt, string what)
    {
        // The CPU engine's exact path: its low-bit decode GEMV on float32 activations (the int8 default rounds them as
        // llama.cpp does, another computation); the setting does not reach the device, whose kernels take fp16.
        model.WithDecodeActivations(DecodeActivations.Float32);
        var (cpuIds, margins) = CpuGreedy(model, prompt);
        using var runtime = new EmulatedCudaRuntime();
        using var engine = new DeviceDecodeEngine(new DeviceModel(runtime, model));
        var tokenizer = new NoTextTokenizer(model.Config.VocabSize);
        var device = TextGenerator.Generate(model, tokenizer, prompt, Generated, new Sampler(0, 1, 0), stopAtEnd: false,
            _ => { }, engine: engine).Ids;
        TestContext.Out.WriteLine($"{what}: cpu    {string.Join(",", cpuIds)}");
        TestContext.Out.WriteLine($"{what}: device {string.Join(",", device)}");
        TestContext.Out.WriteLine($"{what}: smallest cpu margin {margins.Min():G3} (step {Array.IndexOf(margins, margins.Min())})");
        Assert.That(device, Has.Count.EqualTo(Generated));
        for (int step = 0; step < Generated; step++)
        {
            if (device[step] == cpuIds[step]) continue;
            TestContext.Out.WriteLine($"{what}: step {step} differs (cpu {cpuIds[step]}, device {device[step]}); " +
                                      $"cpu margin {margins[step]:G3}");
            Assert.That(margins[step], Is.LessThan(Tolerances.DeviceGreedyNearTieLogit),
                $"{what}: step {step}: the device chose {device[step]}, the CPU {cpuIds[step]} by {margins[step]:G3} logits — not a near-tie");
            break;
        }
        return engine.Model;
    }

    private static (int[] Ids, double[] Margins) CpuGreedy(InferenceModel model, int[] prompt)
    {
        using var session = new InferenceSession(model, prompt.Length + Generated);
        var ids = new int[Generated];
        var margins = new double[Generated];
        var logits = session.ForwardLast(prompt);
        for (int step = 0; step < Generated; step++)
        {
            int best = Sampler.ArgMax(logits);
            float second = float.NegativeInfinity;
            for (int i = 0; i < logits.Length; i++) if (i != best) second = Math.Max(second, logits[i]);
            (ids[step], margins[step]) = (best, logits[best] - (double)second);
            if (step + 1 < Generated) logits = session.ForwardLast([best]);
        }
        return (ids, margins);
    }

    /// <summary>Ids in, no text: generation by ids needs only BOS/EOS (never matched: stopAtEnd is off) and a decode.</summary>
    private sealed class NoTextTokenizer(int vocab) : ITextTokenizer
    {
        public int VocabSize => vocab;
        public int BosId => -1;
        public int EosId => -1;
        public bool AddsBos => false;
        public int[] Encode(string text, bool addBos) => [];
        public string Decode(ReadOnlySpan<int> ids) => "";
    }
}
