using NUnit.Framework;
using QuantNative.Fuzz;

namespace QuantNative.Tests.Fuzz;

/// <summary>
/// The fuzz harnesses (tools/fuzz/Harnesses.cs) in the test suite, without AFL: every seed must load cleanly (a seed
/// that fails would only fuzz the error path), every input in tools/fuzz/regressions — each one a crash found by the
/// fuzzer or reported in issue 16 — must end in a QuantNativeException or succeed, and a fixed set of mutations of
/// each seed (bit flips, byte runs, cuts, insertions) must too: a small, deterministic fuzz run on every build.
/// </summary>
public class FuzzCorpusTests
{
    private static string FuzzDir => Path.Combine(TestPaths.RepoRoot, "tools", "fuzz");

    private static IEnumerable<TestCaseData> Files(string folder) =>
        Harnesses.All.Keys.SelectMany(h =>
        {
            string dir = Path.Combine(FuzzDir, folder, h);
            return Directory.Exists(dir)
                ? Directory.GetFiles(dir).Order().Select(f => new TestCaseData(h, Path.GetFileName(f)))
                : [];
        });

    private static IEnumerable<TestCaseData> Seeds() => Files("seeds");
    private static IEnumerable<TestCaseData> Regressions() => Files("regressions");

    [Test]
    public void EveryHarnessHasSeeds() =>
        Assert.That(Harnesses.All.Keys.Where(h => !Directory.EnumerateFiles(Path.Combine(FuzzDir, "seeds", h)).Any()), Is.Empty);

    [TestCaseSource(nameof(Seeds))]
    public void ASeedLoadsCleanly(string harness, string file) =>
        Assert.DoesNotThrow(() => Harnesses.All[harness](File.ReadAllBytes(Path.Combine(FuzzDir, "seeds", harness, file))));

    [TestCaseSource(nameof(Regressions))]
    public void AFoundInputIsACleanError(string harness, string file) =>
        Assert.DoesNotThrow(() => Harnesses.Run(harness, File.ReadAllBytes(Path.Combine(FuzzDir, "regressions", harness, file))));

    /// <summary>Mutations per seed; docs/RELIABILITY.md counts them in its bad-input table.</summary>
    public const int MutationsPerSeed = 150;

    [TestCaseSource(nameof(Seeds))]
    public void MutatedSeedsAreCleanErrors(string harness, string file)
    {
        var seed = File.ReadAllBytes(Path.Combine(FuzzDir, "seeds", harness, file));
        var random = new Random(file.Aggregate(16, (h, ch) => h * 31 + ch)); // string.GetHashCode differs per process
        for (int i = 0; i < MutationsPerSeed; i++)
        {
            var input = Mutate(seed, random);
            try
            {
                Harnesses.Run(harness, input);
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i} of {file}: {e.GetType().Name}: {e.Message}\ninput (hex): {Convert.ToHexString(input)}");
            }
        }
    }

    /// <summary>JSON's structure characters and a byte that is never UTF-8.</summary>
    private static readonly byte[] Punctuation = "\"{}[],:0\\"u8.ToArray().Append((byte)0xFF).ToArray();

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var b = new List<byte>(seed);
        int edits = 1 + random.Next(4);
        for (int k = 0; k < edits && b.Count > 0; k++)
        {
            int at = random.Next(b.Count);
            switch (random.Next(6))
            {
                case 0: b[at] ^= (byte)(1 << random.Next(8)); break;                       // bit flip
                case 1: b[at] = (byte)random.Next(256); break;                              // random byte
                case 2: b.RemoveRange(at, b.Count - at); break;                             // cut short
                case 3: b.InsertRange(at, Enumerable.Repeat((byte)random.Next(256), 1 + random.Next(8))); break;
                case 4: b[at] = Punctuation[random.Next(Punctuation.Length)]; break;

                default: b.RemoveAt(at); break;
            }
        }
        return [.. b];
    }
}
