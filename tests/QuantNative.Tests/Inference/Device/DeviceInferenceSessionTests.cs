using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Formats;
using QuantNative.Inference;
using QuantNative.Inference.Device;

namespace QuantNative.Tests.Inference.Device;

/// <summary>
/// <see cref="DeviceInferenceSession"/>'s contract beyond the greedy tokens (DeviceGreedyTests): the three ways of
/// reading a step agree with each other and with the CPU session, Reset starts a new sequence, and bad input is a
/// clear error before anything runs (an id outside the vocabulary, more tokens than the cache); rows split into chunks
/// of keys (long contexts) agree with the one-block attention.
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

    /// <summary>Rows split into chunks of keys (the path of contexts past 12,288 keys, here forced on short rows with
    /// chunks of 5 and 16 keys: ragged chunks, prefill rows with empty chunks) give the one-block kernel's greedy tokens
    /// and its logits within float rounding, for a prompt and the steps after it.</summary>
    [TestCase(5)]
    [TestCase(16)]
    public void SplitAttentionRows_GiveTheOneBlockResults(int chunk)
    {
        int[] prompt = [1, 403, 407, 261, 378, 432, 383, 300, 278, 401, 262, 290, 389, 260, 497, 263, 370, 431, 287];
        using var whole = new DeviceInferenceSession(_device, 40);
        using var split = new DeviceInferenceSession(_device, 40) { AttentionChunkOverride = chunk };
        var a = whole.Forward(prompt);
        var b = split.Forward(prompt);
        double error = SyntheticFamilies.RelativeMaxError(b, a);
        TestContext.Out.WriteLine($"chunk {chunk}: split vs one-block logits, max |Δ| / max |one-block|: {error:G3}");
        Assert.That(error, Is.LessThan(Tolerances.DeviceFp32LogitsRel));
        int next = Sampler.ArgMax(a[^_model.Config.VocabSize..]);
        for (int step = 0; step < 12; step++)
        {
            int x = whole.ForwardGreedy([next]), y = split.ForwardGreedy([next]);
            Assert.That(y, Is.EqualTo(x), $"step {step}");
            next = x;
        }
    }

    [Test]
    public void AContextBeyondOneBlocksSharedMemory_IsAccepted()
    {
        using var model = InferenceModel.Open(ModelLoader.Open(SyntheticFamilies.Dir("qwen3")));
        using var device = new DeviceModel(_runtime, model);
        using var session = new DeviceInferenceSession(device, 20_000); // split rows past 12,288 keys: nothing refused
        Assert.That(session.Capacity, Is.EqualTo(20_000));
    }
}
