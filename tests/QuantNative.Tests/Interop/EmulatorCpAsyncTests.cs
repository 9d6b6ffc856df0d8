using NUnit.Framework;

namespace QuantNative.Tests.Interop;

/// <summary>cp.async: cg/ca copies of 4, 8 and 16 bytes, zero fill from src-size, commit/wait groups, alignment.</summary>
public class EmulatorCpAsyncTests : EmulatorTestBase
{
    [Test]
    public void CpAsync_CopiesAndZeroFills()
    {
        var rng = NewRandom();
        const int blocks = 3, threads = 64;
        var input = Enumerable.Range(0, blocks * threads * 12).Select(_ => (float)rng.NextDouble() + 1).ToArray();
        var srcBytes = Enumerable.Range(0, threads).Select(t => t < 17 ? t : rng.Next(0, 17)).ToArray();
        var output = NaNs(input.Length);
        Launch1D("qn_selftest_cp_async", blocks, threads, output, input, srcBytes);
        for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++)
        {
            int src = (b * threads + threads - 1 - t) * 12; // the tile is read back reversed by thread
            int dst = (b * threads + t) * 12;
            for (int k = 0; k < 8; k++)
                Assert.That(output[dst + k], Is.EqualTo(input[src + k]), $"block {b} thread {t} element {k}");
            // The zero-filled 16 bytes: the first srcBytes of the source thread, then zeros.
            byte[] expected = new byte[16];
            int n = srcBytes[threads - 1 - t];
            for (int i = 0; i < n; i++) expected[i] = BitConverter.GetBytes(input[src + 8 + i / 4])[i % 4];
            var got = output.AsSpan(dst + 8, 4).ToArray().SelectMany(BitConverter.GetBytes).ToArray();
            Assert.That(got, Is.EqualTo(expected), $"block {b} thread {t} zero fill of {n} bytes");
        }
    }

    [Test]
    public void WaitGroup_LandsTheOlderGroupsOnly()
    {
        var rng = NewRandom();
        var input = Enumerable.Range(0, 12).Select(_ => (float)rng.NextDouble() + 1).ToArray();
        var output = NaNs(48);
        Launch1D("qn_selftest_cp_async_groups", 1, 1, output, input);
        // Emulator semantics (on a GPU the first three snapshots race with the copies): a copy lands when its
        // thread waits for its group, so a kernel that reads before waiting reads stale data here.
        float[] Snapshot(int landed) => Enumerable.Range(0, 12).Select(k => k < 4 * landed ? input[k] : -1f).ToArray();
        Assert.That(output[..12], Is.EqualTo(Snapshot(0)), "right after issuing");
        Assert.That(output[12..24], Is.EqualTo(Snapshot(1)), "after wait_group 2");
        Assert.That(output[24..36], Is.EqualTo(Snapshot(2)), "after wait_group 1");
        Assert.That(output[36..48], Is.EqualTo(Snapshot(3)), "after wait_all");
    }

    [Test]
    public void MisalignedCopy_FailsTheLaunch()
    {
        var input = new float[8];
        var output = NaNs(1);
        var e = LaunchExpectingError("qn_selftest_cp_async_misaligned", (1, 1, 1), (1, 1, 1), 0, output, input);
        Assert.That(e.Message, Does.Contain("16-byte aligned"));
        Assert.That(e.Message, Does.Contain("cp_async.cu:"));
    }
}
