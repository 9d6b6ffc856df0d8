using NUnit.Framework;
using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Inference;
using QuantNative.Inference.Device;
using QuantNative.Inference.LowBit;
using QuantNative.Tests.Quantization;

namespace QuantNative.Tests.Inference.Device;

/// <summary>
/// What grounds <see cref="Tolerances.DeviceGreedyNearTieLogit"/>: when every logit of the device differs from the
/// CPU's by at most δ, the two can pick different tokens only where the CPU's top two are within 2δ. Here δ is measured
/// on the W4 models whose linears take fp16 activations on the device (the largest difference of the paths), over a
/// 40-token prefill and 8 decoded steps, and must stay below half the tolerance.
/// </summary>
public class DeviceLogitDifferenceTests
{
    [TestCase("rtn", false)]
    [TestCase("gptq", true)]
    public void W4LogitsStayWithinHalfTheNearTieTolerance(string method, bool actOrder)
    {
        var q = StoriesSplit.Quantize(method, 4, 32,
            GptqCheckpointFormat.V2, actOrder);
        using var model = InferenceModel.From(q.Model).WithDecodeActivations(DecodeActivations.Float32);
        using var runtime = new EmulatedCudaRuntime();
        using var device = new DeviceModel(runtime, model);
        var tokens = StoriesSplit.EvalTokens[..48];
        using var onDevice = new DeviceInferenceSession(device, tokens.Length);
        var cpu = new InferenceSession(model, tokens.Length);
        double worst = MaxDifference(onDevice.Forward(tokens[..40]), cpu.Forward(tokens[..40]));
        for (int t = 40; t < tokens.Length; t++)
            worst = Math.Max(worst, MaxDifference(onDevice.Forward(tokens[t..(t + 1)]), cpu.Forward(tokens[t..(t + 1)])));
        TestContext.Out.WriteLine($"{method} W4 g32: max |Δ logit| {worst:G3}");
        Assert.That(worst, Is.LessThan(Tolerances.DeviceGreedyNearTieLogit / 2));
    }

    private static double MaxDifference(float[] a, float[] b)
    {
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - b[i]));
        return double.IsNaN(worst) ? double.PositiveInfinity : worst;
    }
}
