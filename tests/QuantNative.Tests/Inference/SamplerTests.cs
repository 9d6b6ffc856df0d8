using NUnit.Framework;
using QuantNative.Inference;

namespace QuantNative.Tests.Inference;

public class SamplerTests
{
    [Test]
    public void TemperatureZeroIsFirstArgMax()
    {
        var sampler = new Sampler(0, 1, seed: 1);
        Assert.That(sampler.Next([0.5f, 3f, -1f, 3f]), Is.EqualTo(1));
    }

    [Test]
    public void SameSeedSameDraws()
    {
        var logits = Enumerable.Range(0, 50).Select(i => MathF.Sin(i)).ToArray();
        var a = new Sampler(1f, 1f, seed: 42);
        var b = new Sampler(1f, 1f, seed: 42);
        var c = new Sampler(1f, 1f, seed: 43);
        var da = Enumerable.Range(0, 100).Select(_ => a.Next(logits)).ToArray();
        var db = Enumerable.Range(0, 100).Select(_ => b.Next(logits)).ToArray();
        var dc = Enumerable.Range(0, 100).Select(_ => c.Next(logits)).ToArray();
        Assert.That(da, Is.EqualTo(db));
        Assert.That(da, Is.Not.EqualTo(dc));
    }

    [Test]
    public void DrawsFollowTheSoftmax()
    {
        float[] logits = [0f, MathF.Log(3f)]; // probabilities 1/4, 3/4
        var sampler = new Sampler(1f, 1f, seed: 7);
        int ones = Enumerable.Range(0, 20000).Count(_ => sampler.Next(logits) == 1);
        Assert.That(ones / 20000.0, Is.EqualTo(0.75).Within(0.015)); // 5 standard deviations of a binomial
    }

    [Test]
    public void TopPKeepsOnlyTheNucleus()
    {
        float[] logits = [2f, 1f, 0f, -1f];
        var sampler = new Sampler(1f, 0.5f, seed: 3); // p(0) ≈ 0.64 ≥ 0.5: only token 0 survives
        Assert.That(Enumerable.Range(0, 500).Select(_ => sampler.Next(logits)).Distinct(), Is.EqualTo(new[] { 0 }));
    }

    [Test]
    public void RejectsBadSettings()
    {
        Assert.That(() => new Sampler(-1, 1, 0), Throws.InstanceOf<QuantNativeException>().With.Message.Contains("--temperature"));
        Assert.That(() => new Sampler(1, 0, 0), Throws.InstanceOf<QuantNativeException>().With.Message.Contains("--top-p"));
        Assert.That(() => new Sampler(float.NaN, 1, 0), Throws.InstanceOf<QuantNativeException>());
    }
}
