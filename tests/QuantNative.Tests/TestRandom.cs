using NUnit.Framework;

namespace QuantNative.Tests;

/// <summary>A fresh random generator whose seed is printed, so a failing draw can be replayed.</summary>
public static class TestRandom
{
    public static Random New()
    {
        int seed = Random.Shared.Next();
        TestContext.Out.WriteLine($"random seed {seed}");
        return new Random(seed);
    }
}
