using NUnit.Framework;
using QuantNative.Quantization.Gptq;

namespace QuantNative.Tests.Quantization.Gptq;

public class HessianAccumulatorTests
{
    [Test]
    public void BatchesGiveTwoXTransposeXOverN([Values(1, 7, 300)] int batch)
    {
        const int n = 300, columns = 17;
        var random = new Random(batch);
        var x = new CalibrationData.Correlated(random, columns).Sample(random, n);
        var h = CalibrationData.Accumulate(x, n, columns, batch).Hessian();
        for (int i = 0; i < columns; i++)
        for (int j = 0; j < columns; j++)
        {
            double expected = 0;
            for (int r = 0; r < n; r++) expected += (double)x[r * columns + i] * x[r * columns + j];
            expected *= 2.0 / n;
            Assert.That(h[i * columns + j], Is.EqualTo(expected).Within(Tolerances.HessianSummationOrderRel * Math.Abs(expected) + 1e-300),
                $"H[{i}, {j}]");
        }
    }

    [Test]
    public void RejectsBadBatches()
    {
        var acc = new HessianAccumulator(4, "model.layers.1.self_attn.q_proj");
        Assert.That(() => acc.AddBatch(new float[7], 2),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("q_proj").And.Message.Contains("4 input columns"));
        var x = new float[8];
        x[6] = float.PositiveInfinity;
        Assert.That(() => acc.AddBatch(x, 2),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("row 1, column 2"));
        Assert.That(() => acc.Hessian(),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("no calibration rows"));
        Assert.That(() => new HessianAccumulator(0), Throws.InstanceOf<QuantNativeException>());
    }
}
