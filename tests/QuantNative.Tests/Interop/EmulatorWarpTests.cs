using NUnit.Framework;

namespace QuantNative.Tests.Interop;

/// <summary>
/// Warp operations against the CUDA C++ Programming Guide's definitions (written here as scalar C#): every shuffle
/// variant with every width, 4- and 8-byte payloads, independent groups with partial masks, votes, __activemask in
/// divergent code, reductions, __match_any_sync and __syncwarp as a memory barrier among a warp's lanes.
/// </summary>
public class EmulatorWarpTests : EmulatorTestBase
{
    // Guide: __shfl_sync reads lane (srcLane % width) of the caller's width-sized segment.
    private static int Idx(int[] v, int warpBase, int lane, int src, int width) =>
        v[warpBase + src % width + lane / width * width];

    // Guide: __shfl_up_sync reads lane - delta; when that leaves the caller's segment, the caller's own value.
    private static int Up(int[] v, int warpBase, int lane, int delta, int width) =>
        lane % width - delta < 0 ? v[warpBase + lane] : v[warpBase + lane - delta];

    // Guide: __shfl_down_sync reads lane + delta; past the end of the caller's segment, the caller's own value.
    private static int Down(int[] v, int warpBase, int lane, int delta, int width) =>
        lane % width + delta >= width ? v[warpBase + lane] : v[warpBase + lane + delta];

    // Guide: __shfl_xor_sync reads lane ^ laneMask; earlier segments may be read, a later one gives the own value.
    private static int Xor(int[] v, int warpBase, int lane, int mask, int width)
    {
        int src = lane ^ mask;
        return src / width > lane / width ? v[warpBase + lane] : v[warpBase + src];
    }

    [TestCase(new[] { 0, 1, 2, 3, 5, 7, 8, 13, 16, 17, 31 }, false)]
    [TestCase(new[] { 32, 33, 63, 47 }, true)]
    public void Shuffles_MatchTheScalarDefinitions(int[] args, bool idxOnly)
    {
        var rng = NewRandom();
        const int blocks = 3, threads = 64, total = blocks * threads;
        var input = Enumerable.Range(0, total).Select(_ => rng.Next()).ToArray();
        var output = Poison(4 * 6 * args.Length * total);
        Launch1D("qn_selftest_shuffle", blocks, threads, output, input, args, args.Length);
        string[] modes = ["idx", "up", "down", "xor"];
        for (int mode = 0; mode < (idxOnly ? 1 : 4); mode++)
        for (int w = 0; w < 6; w++)
        for (int a = 0; a < args.Length; a++)
        for (int g = 0; g < total; g++)
        {
            int width = 1 << w, lane = g % 32, warpBase = g - lane, arg = args[a];
            int expected = mode switch
            {
                0 => Idx(input, warpBase, lane, arg, width),
                1 => Up(input, warpBase, lane, arg, width),
                2 => Down(input, warpBase, lane, arg, width),
                _ => Xor(input, warpBase, lane, arg, width),
            };
            int got = output[((mode * 6 + w) * args.Length + a) * total + g];
            if (got != expected)
                Assert.Fail($"{modes[mode]} width {width} arg {arg} thread {g}: got {got}, expected {expected}");
        }
    }

    [Test]
    public void Shuffles_Move4And8BytePayloads()
    {
        var rng = NewRandom();
        const int blocks = 2, threads = 96, total = blocks * threads;
        var inD = Enumerable.Range(0, total).Select(_ => rng.NextDouble() * 1e300 - 5e299).ToArray();
        var inF = Enumerable.Range(0, total).Select(_ => (float)rng.NextDouble()).ToArray();
        var inL = Enumerable.Range(0, total).Select(_ => rng.NextInt64(long.MinValue, long.MaxValue)).ToArray();
        var outD = Enumerable.Repeat(double.NaN, total).ToArray();
        var outF = NaNs(total);
        var outL = new long[total];
        Launch1D("qn_selftest_shuffle_types", blocks, threads, outD, outF, outL, inD, inF, inL);
        for (int g = 0; g < total; g++)
        {
            int lane = g % 32, warpBase = g - lane;
            Assert.That(outD[g], Is.EqualTo(inD[warpBase + (7 * lane + 3) % 32]), $"double, thread {g}");
            Assert.That(outF[g], Is.EqualTo(inF[lane + 3 < 32 ? g + 3 : g]), $"float, thread {g}");
            Assert.That(outL[g], Is.EqualTo(inL[warpBase + (lane ^ 5)]), $"long, thread {g}");
        }
    }

    [Test]
    public void PartialMasks_FormIndependentGroups()
    {
        var rng = NewRandom();
        const int threads = 64;
        var input = Enumerable.Range(0, threads).Select(_ => rng.Next()).ToArray();
        var output = Poison(threads);
        Launch1D("qn_selftest_shuffle_partial", 1, threads, output, input);
        for (int g = 0; g < threads; g++)
        {
            int lane = g % 32, warpBase = g - lane;
            int expected = lane < 16
                ? input[warpBase + (lane ^ 1)]
                : Down(input, warpBase + 16, lane - 16, 2, 16);
            Assert.That(output[g], Is.EqualTo(expected), $"thread {g}");
        }
    }

    [Test]
    public void Votes_Reductions_Match_ActiveMask_SyncWarp()
    {
        var rng = NewRandom();
        const int blocks = 2, threads = 128, total = blocks * threads;
        var pred = Enumerable.Range(0, total).Select(_ => rng.Next(-4000, 4000)).ToArray();
        // One warp where every predicate is set and one where none is: all/any edge cases.
        for (int i = 32; i < 64; i++) pred[i] |= 3;
        for (int i = 64; i < 96; i++) pred[i] &= ~3;
        var output = PoisonU(total * 12);
        Launch1D("qn_selftest_vote", blocks, threads, output, pred);
        for (int g = 0; g < total; g++)
        {
            int lane = g % 32, warpBase = g - lane;
            var warp = pred.AsSpan(warpBase, 32).ToArray();
            uint ballot = 0, evenBallot = 0, active = 0;
            for (int l = 0; l < 32; l++)
            {
                if ((warp[l] & 1) != 0) ballot |= 1u << l;
                if ((warp[l] & 2) != 0) active |= 1u << l;
            }
            evenBallot = ballot & 0x55555555u;
            var v = warp.Select(p => p >> 2).ToArray();
            uint match = 0;
            for (int l = 0; l < 32; l++)
                if ((v[l] & 3) == (v[lane] & 3)) match |= 1u << l;
            var o = output.AsSpan(g * 12, 12).ToArray();
            string at = $"thread {g}";
            Assert.That(o[0], Is.EqualTo(ballot), "ballot " + at);
            Assert.That(o[1], Is.EqualTo(ballot != 0 ? 1u : 0u), "any " + at);
            Assert.That(o[2], Is.EqualTo(ballot == 0xffffffffu ? 1u : 0u), "all " + at);
            if (lane % 2 == 0)
            {
                Assert.That(o[3], Is.EqualTo(evenBallot), "even ballot " + at);
                Assert.That(o[4], Is.EqualTo(evenBallot != 0 ? 1u : 0u), "even any " + at);
                Assert.That(o[5], Is.EqualTo(evenBallot == 0x55555555u ? 1u : 0u), "even all " + at);
            }
            else
            {
                Assert.That(o[3..6], Is.All.EqualTo(0x7fbadbadu), "odd lanes skip the partial vote " + at);
            }
            Assert.That(o[6], Is.EqualTo((pred[g] & 2) != 0 ? active : 0x7fbadbadu), "__activemask " + at);
            Assert.That(o[7], Is.EqualTo(unchecked((uint)v.Sum())), "__reduce_add_sync " + at);
            Assert.That(o[8], Is.EqualTo(unchecked((uint)v.Min())), "__reduce_min_sync (signed) " + at);
            Assert.That(o[9], Is.EqualTo(v.Select(x => unchecked((uint)x)).Max()), "__reduce_max_sync (unsigned) " + at);
            Assert.That(o[10], Is.EqualTo(match), "__match_any_sync " + at);
            Assert.That(o[11], Is.EqualTo(unchecked((uint)v[31 - lane])), "__syncwarp exchange " + at);
        }
    }
}
