using NUnit.Framework;
namespace QuantNative.Tests;

public class SmokeTests
{
    [Test]
    public void UnknownVerbIsUsageError() =>
        Assert.That(QuantNative.Cli.CommandLine.Run(["frobnicate"], TextWriter.Null, TextWriter.Null), Is.EqualTo(2));
}
