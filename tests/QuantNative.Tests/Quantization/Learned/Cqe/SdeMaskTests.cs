using NUnit.Framework;
using QuantNative.Quantization.Learned.Cqe;

namespace QuantNative.Tests.Quantization.Learned.Cqe;

/// <summary>The SDE masks (DESIGN.md §7.6): their entries, spans, and the refusals of malformed specs.</summary>
public class SdeMaskTests
{
    private static HashSet<(int, int)> Entries(string spec, int rank)
    {
        var layout = SdeMask.Parse(spec).For(rank, "layer");
        return layout.Rows.Zip(layout.Cols).ToHashSet();
    }

    private static HashSet<(int, int)> Where(int rank, Func<int, int, bool> inMask) =>
        (from i in Enumerable.Range(0, rank) from j in Enumerable.Range(0, rank) where inMask(i, j) select (i, j)).ToHashSet();

    [Test]
    public void EntriesAreTheDefinitions()
    {
        Assert.That(Entries("diag", 6), Is.EquivalentTo(Where(6, (i, j) => i == j)));
        Assert.That(Entries("band:0", 6), Is.EquivalentTo(Where(6, (i, j) => i == j)));
        Assert.That(Entries("band:2", 7), Is.EquivalentTo(Where(7, (i, j) => Math.Abs(i - j) <= 2)));
        Assert.That(Entries("block:3", 7), Is.EquivalentTo(Where(3, (_, _) => true)));
        Assert.That(Entries("band:1+block:4", 9),
            Is.EquivalentTo(Where(9, (i, j) => Math.Abs(i - j) <= 1 || (i < 4 && j < 4))));
        Assert.That(Entries("diag+block:2", 5), Is.EquivalentTo(Where(5, (i, j) => i == j || (i < 2 && j < 2))));
    }

    [Test]
    public void ActiveDirectionsAndColumnOrder()
    {
        Assert.That(SdeMask.Parse("block:3").For(64, "l").Active, Is.EqualTo(3), "a block alone needs only its k directions");
        Assert.That(SdeMask.Parse("band:1+block:3").For(64, "l").Active, Is.EqualTo(64));
        var layout = SdeMask.Parse("band:1").For(5, "l");
        Assert.That(layout.Cols, Is.Ordered, "entries are stored column by column");
        var starts = layout.ColumnStarts();
        Assert.That(starts, Is.EqualTo(new[] { 0, 2, 5, 8, 11, 13 }));
        Assert.That(SdeMask.Parse("diag").IsDiagonal && SdeMask.Parse("band:0").IsDiagonal, Is.True);
        Assert.That(SdeMask.Parse("band:1").IsDiagonal || SdeMask.Parse("block:1").IsDiagonal, Is.False);
    }

    [TestCase("band:-1", "negative half-width")]
    [TestCase("block:0", "couples no direction")]
    [TestCase("block:-2", "couples no direction")]
    [TestCase("band", "unknown mask part")]
    [TestCase("band:x", "needs an integer")]
    [TestCase("lowrank:4", "unknown mask part")]
    [TestCase("", "empty mask")]
    [TestCase("diag+", "unknown mask part")]
    public void MalformedSpecsAreRefused(string spec, string why)
    {
        var e = Assert.Throws<QuantNativeException>(() => SdeMask.Parse(spec))!;
        Assert.That(e.Message, Does.Contain("--sde").And.Contain(why));
    }

    [Test]
    public void BlockLargerThanTheRankIsRefused()
    {
        var e = Assert.Throws<QuantNativeException>(() => SdeMask.Parse("band:1+block:33").For(32, "self_attn.k_proj"))!;
        Assert.That(e.Message, Does.Contain("block:33").And.Contain("self_attn.k_proj").And.Contain("rank 32"));
    }
}
