using NUnit.Framework;
using QuantNative.Interop;

namespace QuantNative.Tests.Interop;

/// <summary>
/// Built-in variables and __syncthreads: data written before a barrier is visible after it, across many blocks on
/// parallel host threads, with both fiber switchers; exited threads count as arrived; barrier reductions; and every
/// kind of divergent barrier is an error naming the sites, not a hang.
/// </summary>
public class EmulatorBarrierTests : EmulatorTestBase
{
    [TestCase(1)]
    [TestCase(2)]
    public void BuiltInVariables_MatchTheLaunchShape(int hostThreads)
    {
        Emulator.SetOption("host_threads", hostThreads);
        (uint X, uint Y, uint Z) grid = (3, 2, 2), block = (8, 3, 2);
        int threads = (int)(block.X * block.Y * block.Z), blocks = (int)(grid.X * grid.Y * grid.Z);
        var output = Poison(blocks * threads * 12);
        Launch("qn_selftest_indexing", grid, block, 0, output);
        for (int bz = 0; bz < grid.Z; bz++)
        for (int by = 0; by < grid.Y; by++)
        for (int bx = 0; bx < grid.X; bx++)
        for (int tz = 0; tz < block.Z; tz++)
        for (int ty = 0; ty < block.Y; ty++)
        for (int tx = 0; tx < block.X; tx++)
        {
            int b = bx + (int)grid.X * (by + (int)grid.Y * bz);
            int t = tx + (int)block.X * (ty + (int)block.Y * tz);
            var got = output.AsSpan((b * threads + t) * 12, 12).ToArray();
            int[] expected = [tx, ty, tz, bx, by, bz, (int)block.X, (int)block.Y, (int)block.Z, (int)grid.X,
                (int)grid.Y, (int)grid.Z];
            Assert.That(got, Is.EqualTo(expected), $"block ({bx},{by},{bz}) thread ({tx},{ty},{tz})");
        }
    }

    [TestCase(1, false, 256)]
    [TestCase(2, false, 256)]
    [TestCase(2, false, 1024)]
    [TestCase(2, true, 96)]
    [TestCase(2, false, 45)]
    public void DataWrittenBeforeABarrier_IsVisibleAfterIt(int hostThreads, bool ucontext, int threads)
    {
        Emulator.SetOption("host_threads", hostThreads);
        Emulator.SetOption("ucontext", ucontext ? 1 : 0);
        var rng = NewRandom();
        const int blocks = 40, rounds = 6;
        var input = Enumerable.Range(0, blocks * threads).Select(_ => (float)rng.Next(-64, 65)).ToArray();
        var output = NaNs(input.Length);
        Launch1D("qn_selftest_barrier_rotate", blocks, (uint)threads, output, input, rounds);
        for (int b = 0; b < blocks; b++)
        {
            var v = input.AsSpan(b * threads, threads).ToArray();
            for (int r = 0; r < rounds; r++)
            {
                var s = v.ToArray();
                for (int t = 0; t < threads; t++) v[t] = 0.5f * v[t] + s[(t + 1 + r) % threads];
            }
            Assert.That(output.AsSpan(b * threads, threads).ToArray(), Is.EqualTo(v), $"block {b}");
        }
    }

    [Test]
    public void ExitedThreads_CountAsArrived()
    {
        var rng = NewRandom();
        const int blocks = 8, threads = 100;
        var input = Enumerable.Range(0, blocks * threads).Select(_ => rng.Next(-1000, 1000)).ToArray();
        var output = Poison(input.Length);
        Launch1D("qn_selftest_barrier_early_exit", blocks, threads, output, input);
        for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++)
        {
            int g = b * threads + t;
            if (t % 3 == 0)
            {
                Assert.That(output[g], Is.EqualTo(unchecked((int)0x7fbadbad)), $"exited thread {t} wrote");
                continue;
            }
            int p = (t + 1) % threads;
            while (p % 3 == 0) p = (p + 1) % threads;
            Assert.That(output[g], Is.EqualTo(input[b * threads + p] + 1), $"block {b} thread {t}");
        }
    }

    [Test]
    public void BarrierReductions_CountAndOr()
    {
        var rng = NewRandom();
        const int blocks = 6, threads = 70;
        var pred = new int[blocks * threads];
        for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++)
            pred[b * threads + t] = b switch { 0 => 0, 1 => 5, _ => rng.Next(4) == 0 ? rng.Next(1, 9) : 0 };
        var output = Poison(blocks * 3);
        Launch1D("qn_selftest_barrier_reductions", blocks, threads, output, pred);
        for (int b = 0; b < blocks; b++)
        {
            int count = pred.Skip(b * threads).Take(threads).Count(p => p != 0);
            Assert.That(output.Skip(b * 3).Take(3), Is.EqualTo(new[] { count, count == threads ? 1 : 0, count > 0 ? 1 : 0 }),
                $"block {b}");
        }
    }

    [TestCase(0, 64u, "divergent __syncthreads()", "barriers.cu:")]
    [TestCase(1, 64u, "divergent __syncthreads()", "threads 0-39 wait at barriers.cu:")]
    [TestCase(2, 64u, "deadlock", "__shfl_*_sync")]
    [TestCase(3, 64u, "exited while lanes 0-15 of warp 0 wait for it", "__shfl_*_sync")]
    [TestCase(4, 64u, "__trap()", "thread (5,0,0)")]
    [TestCase(5, 64u, "assertion failed: t != 7u", "thread (7,0,0)")]
    [TestCase(6, 48u, "names lanes 16-31 that do not exist", "block of 48 threads")]
    public void BrokenSynchronization_IsAnErrorNotAHang(int mode, uint threads, string expected, string detail)
    {
        foreach (int hostThreads in new[] { 1, 2 })
        {
            Emulator.SetOption("host_threads", hostThreads);
            var output = Poison((int)threads);
            var e = LaunchExpectingError("qn_selftest_divergent", (3, 1, 1), (threads, 1, 1), 0, output, mode);
            TestContext.Out.WriteLine(e.Message);
            Assert.That(e.Status, Is.EqualTo(Emulator.QN_EMU_ERROR_LAUNCH_FAILED));
            Assert.That(e.Message, Does.Contain("qn_selftest_divergent"));
            Assert.That(e.Message, Does.Contain("block (0,0,0)"), "the first failing block is reported");
            Assert.That(e.Message, Does.Contain(expected));
            Assert.That(e.Message, Does.Contain(detail));
        }
        // The emulator is usable again after a failed launch.
        var ok = Poison(64);
        Launch1D("qn_selftest_divergent", 1, 64, ok, 99);
        Assert.That(ok, Is.EqualTo(Enumerable.Range(0, 64).ToArray()));
    }
}
