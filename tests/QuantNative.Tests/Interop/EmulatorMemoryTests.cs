using NUnit.Framework;
using QuantNative.Interop;

namespace QuantNative.Tests.Interop;

/// <summary>
/// Shared memory (static per block even when blocks run at the same time on several host threads; dynamic from the
/// launch), atomics under contention across parallel blocks, and the scheduling claims the atomics tests rely on:
/// blocks really run in parallel with several host threads, and in block order with one.
/// </summary>
public class EmulatorMemoryTests : EmulatorTestBase
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    public void StaticShared_IsPrivateToEachBlock(int hostThreads)
    {
        Emulator.SetOption("host_threads", hostThreads);
        var rng = NewRandom();
        const int blocks = 64, threads = 192;
        var input = Enumerable.Range(0, blocks * threads).Select(_ => rng.Next(-100000, 100000)).ToArray();
        var output = Poison(input.Length);
        Launch1D("qn_selftest_static_shared", blocks, threads, output, input);
        for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++)
        {
            int tag = 7 * b + 3;
            Assert.That(output[b * threads + t], Is.EqualTo(input[b * threads + threads - 1 - t] + 1000 * tag),
                $"block {b} thread {t}");
        }
    }

    [TestCase(1, 64)]
    [TestCase(1000, 96)]
    [TestCase(12288, 256)]
    public void DynamicShared_HoldsTheLaunchesBytes(int count, int threads)
    {
        var rng = NewRandom();
        const int blocks = 5;
        var input = Enumerable.Range(0, blocks * count).Select(_ => (float)rng.NextDouble()).ToArray();
        var output = NaNs(input.Length);
        Launch("qn_selftest_dynamic_shared", (blocks, 1, 1), ((uint)threads, 1, 1), (uint)count * 4, output, input, count);
        for (int b = 0; b < blocks; b++)
        for (int i = 0; i < count; i++)
            Assert.That(output[b * count + i], Is.EqualTo(2 * input[b * count + count - 1 - i]), $"block {b} element {i}");
    }

    [Test]
    public void DynamicShared_IsPoisonedBeforeEachBlock()
    {
        // Fill it with a first launch, then check the next launch's threads read the 0xff fill, not the leftovers.
        var input = Enumerable.Repeat(1.0f, 256).ToArray();
        var output = NaNs(256);
        Launch("qn_selftest_dynamic_shared", (1, 1, 1), (256, 1, 1), 1024, output, input, 256);
        var words = PoisonU(256);
        Launch("qn_selftest_dynamic_shared_poison", (1, 1, 1), (256, 1, 1), 1024, words);
        Assert.That(words, Is.All.EqualTo(0xffffffffu));
    }

    [TestCase(2, 120, 256)]
    [TestCase(4, 64, 128)]
    [TestCase(1, 16, 256)]
    public void Atomics_AreExactUnderContention(int hostThreads, int blocks, int threads)
    {
        Emulator.SetOption("host_threads", hostThreads);
        var rng = NewRandom();
        const int n = 200_000, bins = 37;
        var values = Enumerable.Range(0, n).Select(_ => rng.Next(0, 1024)).ToArray();
        var ints = new[] { 0, 0, int.MinValue, int.MaxValue, 0, 0, -1 };
        var uints = new uint[] { 0, 0, 0, 0, 0xffffffffu };
        var fsum = new float[1];
        var ull = new ulong[1];
        var hist = new int[bins];
        var next = Poison(n);
        Launch1D("qn_selftest_atomics", (uint)blocks, (uint)threads, ints, uints, fsum, ull, hist, next, values, n, bins);

        Assert.That(ints[0], Is.EqualTo(n), "atomicAdd count");
        Assert.That(ints[1], Is.EqualTo(values.Sum()), "atomicAdd sum");
        Assert.That(ints[2], Is.EqualTo(values.Max()), "atomicMax");
        Assert.That(ints[3], Is.EqualTo(values.Min()), "atomicMin");
        Assert.That(ints[4], Is.EqualTo(2 * n), "atomicCAS loop");
        Assert.That(ints[5], Is.EqualTo(values.Sum()), "atomicSub");
        Assert.That(uints[0], Is.EqualTo(values.Aggregate(0u, (acc, v) => unchecked(acc + (uint)v * 2654435761u))), "wrapping add");
        Assert.That(uints[1], Is.EqualTo((uint)(n % 10)), "atomicInc limit 9");
        Assert.That(uints[2], Is.EqualTo(values.Aggregate(0u, (acc, v) => acc | 1u << (v & 31))), "atomicOr");
        Assert.That(uints[3], Is.EqualTo(values.Aggregate(0u, (acc, v) => acc ^ (uint)v)), "atomicXor");
        Assert.That(uints[4], Is.EqualTo(values.Aggregate(0xffffffffu, (acc, v) => acc & ~(1u << (v & 31)))), "atomicAnd");
        Assert.That(fsum[0], Is.EqualTo((float)values.Sum(v => v % 64)), "float atomicAdd (exact: integer sums < 2^24)");
        Assert.That(ull[0], Is.EqualTo(values.Aggregate(0ul, (acc, v) => acc + (ulong)v * 1000003ul)), "64-bit atomicAdd");
        var expectedHist = new int[bins];
        foreach (int v in values) expectedHist[v % bins]++;
        Assert.That(hist, Is.EqualTo(expectedHist), "histogram");
        // atomicExch built a list through next[] from ints[6]: every index exactly once, ending at -1.
        var visited = new bool[n];
        int count = 0;
        for (int i = ints[6]; i != -1; i = next[i])
        {
            Assert.That(i, Is.InRange(0, n - 1), "list link");
            Assert.That(visited[i], Is.False, $"index {i} visited twice");
            visited[i] = true;
            count++;
        }
        Assert.That(count, Is.EqualTo(n), "atomicExch lost list nodes");
    }

    [TestCase(2)]
    [TestCase(4)]
    public void Atomics_LoseNoUpdateInATightLoop(int hostThreads)
    {
        Emulator.SetOption("host_threads", hostThreads);
        const int blocks = 64, threads = 128, iters = 200; // 1.6M additions: exact in float (< 2^24)
        var ci = new int[1];
        var cf = new float[1];
        var cu = new ulong[1];
        Launch1D("qn_selftest_atomic_contention", blocks, threads, ci, cf, cu, iters);
        Assert.That(ci[0], Is.EqualTo(blocks * threads * iters), "int atomicAdd");
        Assert.That(cf[0], Is.EqualTo((float)(blocks * threads * iters)), "float atomicAdd");
        Assert.That(cu[0], Is.EqualTo((ulong)(blocks * threads * iters)), "64-bit atomicAdd");
    }

    [Test]
    public void SeveralHostThreads_RunBlocksAtTheSameTime()
    {
        Emulator.SetOption("host_threads", 2);
        var seen = Poison(2);
        var flags = new int[2];
        Launch1D("qn_selftest_parallel_blocks", 2, 1, seen, flags, 5_000_000_000L);
        Assert.That(seen, Is.EqualTo(new[] { 1, 1 }), "the two blocks never ran at the same time");
    }

    [Test]
    public void OneHostThread_RunsBlocksInOrder()
    {
        Emulator.SetOption("host_threads", 1);
        var order = Poison(12 * 5);
        var ticket = new int[1];
        Launch("qn_selftest_block_order", (12, 5, 1), (64, 1, 1), 0, order, ticket);
        Assert.That(order, Is.EqualTo(Enumerable.Range(0, 60).ToArray()));
        // ...and two blocks that wait for each other cannot both finish their wait.
        var seen = Poison(2);
        var flags = new int[2];
        Launch1D("qn_selftest_parallel_blocks", 2, 1, seen, flags, 20_000_000L);
        Assert.That(seen, Is.EqualTo(new[] { 0, 1 }));
    }
}
