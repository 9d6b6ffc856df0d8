using NUnit.Framework;
using QuantNative.Interop;

namespace QuantNative.Tests.Interop;

/// <summary>
/// The emulator's race detector (option "racecheck", QN_EMU_RACECHECK=1) and random schedule (option
/// "schedule_seed", QN_EMU_SCHEDULE=random:SEED), on the planted races of native/tests/kernels/racecheck.cu: a
/// missing __syncthreads() is reported with the two threads, their access kinds and source lines; the same kernel
/// with the barrier reports nothing; warp-synchronous code is ordered by __syncwarp() and shuffles only.
/// </summary>
public class EmulatorRacecheckTests : EmulatorTestBase
{
    private long savedRacecheck;
    private long savedSeed;

    [SetUp]
    public void SaveRaceOptions()
    {
        savedRacecheck = Emulator.GetOption("racecheck");
        savedSeed = Emulator.GetOption("schedule_seed");
        Emulator.SetOption("racecheck", 1);
        Emulator.SetOption("schedule_seed", -1);
    }

    [TearDown]
    public void RestoreRaceOptions()
    {
        Emulator.SetOption("racecheck", savedRacecheck);
        Emulator.SetOption("schedule_seed", savedSeed);
    }

    private static float[] Inputs(int n) => Enumerable.Range(0, n).Select(i => (float)(i * 3 + 1)).ToArray();

    [TestCase("qn_selftest_race_neighbour", 0u)]
    [TestCase("qn_selftest_race_dynamic", 256u * 4)]
    public void MissingBarrier_IsReportedWithBothThreads(string kernel, uint sharedBytes)
    {
        const int n = 96;
        var e = LaunchExpectingError(kernel, (1, 1, 1), (n, 1, 1), sharedBytes, NaNs(n), Inputs(n), 0);
        // Thread order: thread 0 writes s[0] and reads s[1] before thread 1 runs; thread 1's write of s[1] is the
        // first conflicting access, with thread 0's read.
        Assert.That(e.Message, Does.Contain("shared-memory race"));
        Assert.That(e.Message, Does.Contain($"kernel '{kernel}'"));
        Assert.That(e.Message, Does.Contain("thread (1,0,0) [warp 0 lane 1] writes 4 bytes"));
        Assert.That(e.Message, Does.Contain("thread (0,0,0) [warp 0 lane 0] read"));
        Assert.That(e.Message, Does.Contain(sharedBytes == 0 ? "static shared memory" : "dynamic shared memory offset 0x4"));
        Assert.That(e.Message, Does.Contain("racecheck.cu:"), "both accesses' source lines");
    }

    [TestCase("qn_selftest_race_neighbour", 0u)]
    [TestCase("qn_selftest_race_dynamic", 256u * 4)]
    public void WithTheBarrier_NothingIsReported(string kernel, uint sharedBytes)
    {
        const int n = 96;
        var input = Inputs(n);
        var output = NaNs(n);
        Launch(kernel, (1, 1, 1), (n, 1, 1), sharedBytes, output, input, 1);
        for (int t = 0; t < n; t++) Assert.That(output[t], Is.EqualTo(input[(t + 1) % n]), $"thread {t}");
    }

    [Test]
    public void RacecheckOff_TheRacyKernelRunsUnreported()
    {
        Emulator.SetOption("racecheck", 0);
        const int n = 64;
        Launch("qn_selftest_race_neighbour", (1, 1, 1), (n, 1, 1), 0, NaNs(n), Inputs(n), 0);
    }

    [TestCase(0, false)]
    [TestCase(1, true)]
    [TestCase(2, false)]
    public void WarpSynchronousAccesses_NeedASyncwarpOrAWarpCollective(int mode, bool race)
    {
        var input = Inputs(32);
        if (race)
        {
            var e = LaunchExpectingError("qn_selftest_race_warp", (1, 1, 1), (32, 1, 1), 0, NaNs(32), input, mode);
            Assert.That(e.Message, Does.Contain("thread (1,0,0) [warp 0 lane 1] writes"));
            Assert.That(e.Message, Does.Contain("thread (0,0,0) [warp 0 lane 0] read"));
            Assert.That(e.Message, Does.Contain("no __syncwarp()"));
            return;
        }
        var output = NaNs(32);
        Launch("qn_selftest_race_warp", (1, 1, 1), (32, 1, 1), 0, output, input, mode);
        for (int t = 0; t < 32; t++) Assert.That(output[t], Is.EqualTo(input[t ^ 1]), $"lane {t}");
    }

    [Test]
    public void ReuseOfAReductionBufferWithoutABarrier_IsReported()
    {
        var e = LaunchExpectingError("qn_selftest_race_reuse", (1, 1, 1), (64, 1, 1), 0, NaNs(64), Inputs(64));
        // Every thread reads part[0] and part[1] after the first barrier; lane 0 of warp w then overwrites part[w]
        // while the other warp's threads have read it in the same interval.
        var m = System.Text.RegularExpressions.Regex.Match(e.Message,
            @"thread \((0|32),0,0\) \[warp (\d) lane 0\] writes 4 bytes .*; thread \(\d+,0,0\) \[warp (\d) lane \d+\] read");
        Assert.That(m.Success, Is.True, e.Message);
        Assert.That(m.Groups[3].Value, Is.Not.EqualTo(m.Groups[2].Value), "the reader is in the other warp");
    }

    [Test]
    public void RandomSchedule_ChangesTheOrderReproducibly()
    {
        const int n = 128;
        int[] Run(long seed)
        {
            Emulator.SetOption("schedule_seed", seed);
            var output = Poison(n);
            Launch1D("qn_selftest_schedule_order", 1, n, output);
            Assert.That(output.Order(), Is.EqualTo(Enumerable.Range(0, n)), $"seed {seed}: tickets are a permutation");
            return output;
        }
        var inOrder = Run(-1);
        var a = Run(11);
        Assert.That(Run(11), Is.EqualTo(a), "the same seed gives the same order");
        Assert.That(a, Is.Not.EqualTo(inOrder), "a random order differs from thread order");
        Assert.That(Run(12), Is.Not.EqualTo(a), "another seed gives another order");
        Assert.That(Run(-1), Is.EqualTo(inOrder), "thread order is deterministic");
    }

    [Test]
    public void RandomSchedule_KeepsTheResultsOfCorrectKernels()
    {
        var rng = NewRandom();
        const int blocks = 6, threads = 96, rounds = 4;
        var input = Enumerable.Range(0, blocks * threads).Select(_ => (float)rng.Next(-64, 65)).ToArray();
        float[] Run(long seed)
        {
            Emulator.SetOption("schedule_seed", seed);
            var output = NaNs(input.Length);
            Launch1D("qn_selftest_barrier_rotate", blocks, threads, output, input, rounds);
            return output;
        }
        var reference = Run(-1);
        Assert.That(Run(5), Is.EqualTo(reference));
        Assert.That(Run(987654321), Is.EqualTo(reference));
    }

    [Test]
    public void ScheduleSeed_OutOfRangeIsRefusedByName()
    {
        var e = Assert.Throws<EmulatorException>(() => Emulator.SetOption("schedule_seed", -2))!;
        Assert.That(e.Message, Does.Contain("schedule_seed"));
    }
}
