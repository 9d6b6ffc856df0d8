using NUnit.Framework;
using QuantNative.Model.Quantized;
using QuantNative.Tests.Quantization;

namespace QuantNative.Tests.Model.Quantized;

public class QuantizerConfigTests
{
    [TestCase(0)] [TestCase(1)] [TestCase(7)] [TestCase(9)] [TestCase(16)] [TestCase(-4)]
    public void BitsOutsideTheSupportedSetAreRefused(int bits) =>
        Assert.That(() => new QuantizerConfig(bits),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("--wbits").And.Message.Contains($"{bits}"));

    [TestCase(-2)] [TestCase(-128)]
    public void NegativeGroupSizesOtherThanPerChannelAreRefused(int group) =>
        Assert.That(() => new QuantizerConfig(4, group),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("--group").And.Message.Contains($"{group}"));

    [TestCase(-1)] [TestCase(0)]
    public void MinusOneAndZeroMeanPerChannel(int group)
    {
        var config = new QuantizerConfig(3, group);
        Assert.That(config.PerChannel, Is.True);
        Assert.That(config.GroupSize, Is.EqualTo(QuantizerConfig.PerChannelGroupSize));
        var layout = config.Layout(172);
        Assert.That((layout.Groups, layout.Length, layout.LastGroupLength, layout.Note), Is.EqualTo((1, 172, 172, (string?)null)));
        Assert.That(new GroupLayout(172, group), Is.EqualTo(layout), "GroupLayout reads both spellings too");
    }

    [Test]
    public void MaxCodeIsTwoToTheBitsMinusOne() =>
        Assert.That(QuantTestData.Bits.Select(b => new QuantizerConfig(b).MaxCode), Is.EqualTo(new[] { 3, 7, 15, 255 }));

    [TestCase(172, 32, 6, 12)]
    [TestCase(100, 64, 2, 36)]
    [TestCase(172, 100, 2, 72)]
    public void GroupSizeThatDoesNotDivideLeavesAShorterLastGroupAndANote(int columns, int group, int groups, int last)
    {
        var layout = new QuantizerConfig(4, group).Layout(columns);
        Assert.That(layout.Groups, Is.EqualTo(groups));
        Assert.That(layout.LastGroupLength, Is.EqualTo(last));
        Assert.That(layout.IsRagged, Is.True);
        Assert.That(layout.Note, Does.Contain($"{group}").And.Contain($"{columns}").And.Contain($"{last}"));
        Assert.That(Enumerable.Range(0, groups).Sum(layout.LengthOf), Is.EqualTo(columns));
        Assert.That(Enumerable.Range(0, columns).Select(layout.GroupOf).Max(), Is.EqualTo(groups - 1));
    }

    [Test]
    public void GroupSizeThatDividesHasNoNote()
    {
        var layout = new QuantizerConfig(4, 32).Layout(128);
        Assert.That((layout.Groups, layout.LastGroupLength, layout.IsRagged, layout.Note),
            Is.EqualTo((4, 32, false, (string?)null)));
    }

    [Test]
    public void GroupSizeLargerThanTheRowIsOneGroupWithANote()
    {
        var layout = new QuantizerConfig(4, 128).Layout(100);
        Assert.That((layout.Groups, layout.Length, layout.LastGroupLength), Is.EqualTo((1, 100, 100)));
        Assert.That(layout.Note, Does.Contain("128").And.Contain("per-channel"));
    }
}
