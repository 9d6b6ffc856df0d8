using NUnit.Framework;
using QuantNative.Backends;
using QuantNative.Cuda;
using QuantNative.Training;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Training;

/// <summary>
/// The whole training block, written once against <see cref="IBackend"/>, forward and backward on the CUDA backend
/// (the emulator) against the CPU backend (the array overloads) in float, on a small random GQA block.
/// </summary>
public class BackendBlockTests
{
    [TestCase(5, "llama")]
    [TestCase(17, "llama")]
    [TestCase(17, "qwen2")]
    [TestCase(17, "qwen3")]
    [TestCase(17, "mistral")]
    [TestCase(17, "llama3")]
    public void CudaBackendOnEmulator_MatchesCpuBackend(int tokens, string architecture)
    {
        using var cuda = Backend.Create(DeviceKind.Emulate);
        MatchesCpuBackend(cuda, tokens, architecture);
    }

    /// <summary>The same on a GPU (the fatbin of kernels/train/, cuBLAS); ignored where there is none.</summary>
    [Test]
    public void CudaBackendOnDevice_MatchesCpuBackend()
    {
        var cuda = GpuDevice.OpenBackendOrIgnore();
        using (cuda)
            foreach (var (tokens, architecture) in new[] { (5, "llama"), (17, "llama"), (17, "qwen3"), (17, "mistral") })
                MatchesCpuBackend(cuda, tokens, architecture);
    }

    private static void MatchesCpuBackend(IBackend cuda, int tokens, string architecture)
    {
        // hidden 32, 4 heads over 2 kv heads: head dim 8; an intermediate size that is no multiple of anything.
        var f = new TrainingBlockFixture(32, 43, 4, 2, tokens, seed: tokens, architecture);
        var c = f.Config;
        int capacity = 17;
        var dy = ToFloat(Uniform(new Random(tokens + 1), f.OutputLength));

        // CPU: the array overloads, run twice, the second time accumulating the parameter gradients.
        var w = BlockTensors<float>.From(f.Weights);
        var saved = new BlockActivations<float>(c, capacity);
        var ws = new BlockGradientWorkspace<float>(c, capacity);
        var y = Poisoned<float>(f.OutputLength);
        var dx = Poisoned<float>(f.OutputLength);
        var dW = Poisoned(c);
        TrainingBlock.Forward(y, saved, f.Input, w, c, f.Rope, tokens);
        TrainingBlock.Backward(dx, dW, dy, saved, w, c, f.Rope, ws);
        var dW2 = Copy(dW);
        TrainingBlock.Backward(new float[dx.Length], dW2, dy, saved, w, c, f.Rope, ws, accumulateParameters: true);

        // CUDA: the buffer overloads.
        using var gw = BlockBuffers<float>.Upload(cuda, w);
        using var gdW = BlockBuffers<float>.Upload(cuda, Poisoned(c));
        using var gsaved = new BlockActivations<float>(cuda, c, capacity);
        using var gws = new BlockGradientWorkspace<float>(cuda, c, capacity);
        using var gx = Upload(cuda, f.Input);
        using var gy = Upload(cuda, Poisoned<float>(f.OutputLength));
        using var gdy = Upload(cuda, dy);
        using var gdx = Upload(cuda, Poisoned<float>(f.OutputLength));
        TrainingBlock.Forward(gy, gsaved, gx, gw, c, tokens);
        TrainingBlock.Backward(gdx, gdW, gdy, gsaved, gw, c, gws);
        var cudaDW = Poisoned(c);
        gdW.DownloadTo(cudaDW);
        using var gdx2 = Upload(cuda, new float[f.OutputLength]);
        TrainingBlock.Backward(gdx2, gdW, gdy, gsaved, gw, c, gws, accumulateParameters: true);
        var cudaDW2 = Poisoned(c);
        gdW.DownloadTo(cudaDW2);

        Close(gy.ToArray(), y, "y");
        Close(gdx.ToArray(), dx, "dx");
        foreach (var ((name, expected), (_, actual)) in dW.All().Zip(cudaDW.All())) Close(actual, expected, "d" + name);
        foreach (var ((name, expected), (_, actual)) in dW2.All().Zip(cudaDW2.All()))
            Close(actual, expected, "d" + name + " accumulated");
    }

    [Test]
    public void ArrayOverloads_RefuseActivationsOnAnotherBackend()
    {
        var f = new TrainingBlockFixture(16, 24, 2, 1, 3, seed: 3);
        using var cuda = Backend.Create(DeviceKind.Emulate);
        using var saved = new BlockActivations<float>(cuda, f.Config, 3);
        var e = Assert.Throws<QuantNativeException>(() => TrainingBlock.Forward(new float[f.OutputLength], saved,
            f.Input, BlockTensors<float>.From(f.Weights), f.Config, f.Rope, 3))!;
        Assert.That(e.Message, Does.Contain("array overloads run on the CPU").And.Contain("emulate"));
    }

    private static BackendBuffer<float> Upload(IBackend b, float[] a)
    {
        var buffer = b.Allocate<float>(a.Length);
        buffer.Upload(a);
        return buffer;
    }

    private static BlockTensors<float> Poisoned(QuantNative.Model.LlamaConfig c)
    {
        var t = BlockTensors<float>.Zeros(c);
        foreach (var (_, a) in t.All()) Array.Fill(a, float.NaN);
        return t;
    }

    private static BlockTensors<float> Copy(BlockTensors<float> t) => new()
    {
        AttnNorm = (float[])t.AttnNorm.Clone(), Wq = (float[])t.Wq.Clone(), Wk = (float[])t.Wk.Clone(),
        Wv = (float[])t.Wv.Clone(), Wo = (float[])t.Wo.Clone(), FfnNorm = (float[])t.FfnNorm.Clone(),
        WGate = (float[])t.WGate.Clone(), WUp = (float[])t.WUp.Clone(), WDown = (float[])t.WDown.Clone(),
    };

    private static void Close(float[] actual, float[] expected, string what)
    {
        double rel = RelativeError(actual, ToDouble(expected), expected.Length);
        TestContext.Out.WriteLine($"{what}: {rel:G3}");
        Assert.That(rel, Is.LessThan(Tolerances.CudaVsCpuBlockRel), what);
    }
}
