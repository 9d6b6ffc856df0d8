using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Formats;
using QuantNative.Inference;
using QuantNative.Inference.Device;

namespace QuantNative.Tests.Inference.Device;

/// <summary>
/// <see cref="DeviceInferenceSession"/>'s contract beyond the greedy tokens (DeviceGreedyTests): the three ways of
/// reading a step agree with each other and with the CPU session, Reset starts a new sequence, and bad input is a
/// clear error before anything runs (a context the attention kernel cannot hold, an id outside the vocabulary, more
/// tokens than the cache).
/// </summary>
public class DeviceInferenceSessionTests
{
    private InferenceModel _model = null!;
    private EmulatedCudaRuntime _runtime = null!;
    private DeviceModel _device = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _model = InferenceModel.Open(ModelLoader.Open(TestPaths.Stories260K));
        _runtime = new EmulatedCudaRuntime();
        _device = new DeviceModel(_runtime, _model);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _device.Dispose();
        _runtime.Dispose();
        _model.Dispose();
    }

    [Test]
    public void AllRows_LastRow_AndGreedy_Agree_AndMatchTheCpu()
    {
        int[] prompt = [1, 403, 407, 261, 378, 432, 383];
        int vocab = _model.Config.VocabSize;
        using var all = new DeviceInferenceSession(_device, 16);
        using var last = new DeviceInferenceSession(_device, 16);
        using var greedy = new DeviceInferenceSession(_device, 16);
        var logits = all.Forward(prompt);
        var lastRow = last.ForwardLast(prompt);
        Assert.That(logits, Has.Length.EqualTo(prompt.Length * vocab));
        // The last row is the same computation on one row of the final norm and the head: equal to the bit.
        Assert.That(lastRow, Is.EqualTo(logits[^vocab..]));
        Assert.That(greedy.ForwardGreedy(prompt), Is.EqualTo(Sampler.ArgMax(lastRow)));
        var cpu = new InferenceSession(_model, 16).Forward(prompt);
        double error = SyntheticFamilies.RelativeMaxError(logits, cpu);
        TestContext.Out.WriteLine($"device vs cpu logits, max |Δ| / max |cpu|: {error:G3}");
        Assert.That(error, Is.LessThan(Tolerances.DeviceFp32LogitsRel));
        Assert.That(all.Position, Is.EqualTo(prompt.Length));
    }

    [Test]
    public void Reset_StartsANewSequence()
    {
        int[] prompt = [1, 403, 407, 261];
        using var session = new DeviceInferenceSession(_device, 8);
        int first = session.ForwardGreedy(prompt);
        session.ForwardGreedy([first]);
        session.Reset();
        Assert.That(session.Position, Is.EqualTo(0));
        Assert.That(session.ForwardGreedy(prompt), Is.EqualTo(first));
    }

    [Test]
    public void BadInput_IsAClearError()
    {
        using var session = new DeviceInferenceSession(_device, 4);
        Assert.That(() => session.ForwardGreedy([1, 99999]),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("token id 99999").And.Message.Contains("vocabulary"));
        Assert.That(() => session.ForwardGreedy([1, 2, 3, 4, 5]),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("exceeds the session's context of 4"));
        Assert.That(() => session.ForwardGreedy([]), Throws.TypeOf<QuantNativeException>());
        Assert.That(() => new DeviceInferenceSession(_device, 100_000),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("outside 1..512"));
    }

    [Test]
    public void AContextBeyondTheAttentionKernel_IsRefusedWhenTheSessionIsMade()
    {
        using var model = InferenceModel.Open(ModelLoader.Open(SyntheticFamilies.Dir("qwen3")));
        using var device = new DeviceModel(_runtime, model);
        Assert.That(() => new DeviceInferenceSession(device, 20_000),
            Throws.TypeOf<QuantNativeException>().With.Message.Contains("qn_attention_decode_f32")
                .And.Message.Contains("20000 tokens").And.Message.Contains("--device cpu"));
    }
}
