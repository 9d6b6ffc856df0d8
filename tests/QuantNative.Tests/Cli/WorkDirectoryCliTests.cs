using System.Buffers.Binary;
using System.Security.Cryptography;
using NUnit.Framework;
using QuantNative.Quantization.Learned;

namespace QuantNative.Tests.Cli;

/// <summary>
/// The learned methods' work directory against what breaks it (issue 16): damaged, cut-short, emptied or missing
/// files, a state that records blocks past the model's end, a second run into the same --out, an unusable location
/// and a full disk. Each is one error line naming the file (or the running process) and what to do, exit code 1,
/// never a stack trace or a "successful" resume into a different model.
/// </summary>
public class WorkDirectoryCliTests : SplitTextFixture
{
    private CliRunner.Outcome Quantize(string outDir, params string[] extra) =>
        CliRunner.Run([
            "quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--calib", Calib,
            "--method", "omniquant", "--wbits", "3", "--group", "32", "--nsamples", "2", "--seqlen", "32",
            "--epochs", "1", "--out", outDir, .. extra,
        ]);

    /// <summary>A run stopped after block 1: block-0.bin, block-1.bin, clipping-0/1.bin and state.bin (next block 2).</summary>
    private string Stopped()
    {
        string outDir = NewOut();
        var o = Quantize(outDir, "--stop-after-block", "1");
        Assert.That(o.Stderr, Does.Contain("stopped after block 1"), o.ToString());
        return outDir;
    }

    private static void AssertOneLineError(CliRunner.Outcome o, params string[] mentions)
    {
        Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
        var errors = o.Stderr.Split('\n').Where(l => l.StartsWith("error: ")).ToList();
        Assert.That(errors, Has.Count.EqualTo(1), o.ToString());
        Assert.That(o.Stderr, Does.Not.Contain("   at "), "no stack trace");
        foreach (var m in mentions) Assert.That(errors[0], Does.Contain(m), o.ToString());
    }

    private static string Work(string outDir, string file = "") => Path.Combine(outDir + ".qn-work", file);

    /// <summary>Rewrites a work file's payload and its checksum, as a bug or another version could have written it.</summary>
    private static void RewritePayload(string file, Action<byte[]> edit)
    {
        var bytes = File.ReadAllBytes(file);
        var payload = bytes[..^WorkFile.ChecksumBytes];
        edit(payload);
        File.WriteAllBytes(file, [.. payload, .. SHA256.HashData(payload)]);
    }

    [TestCase("state.bin", 100)]
    [TestCase("state.bin", 0)]
    [TestCase("block-1.bin", 17)]
    [TestCase("clipping-0.bin", 9)]
    public void ACutShortFileIsDamaged(string file, int keep)
    {
        string outDir = Stopped();
        var bytes = File.ReadAllBytes(Work(outDir, file));
        File.WriteAllBytes(Work(outDir, file), bytes[..keep]);
        AssertOneLineError(Quantize(outDir), file, "damaged", "delete", ".qn-work");
        Assert.That(File.Exists(Work(outDir, file)), "the state is left for the user to inspect or delete");
        Assert.That(Directory.Exists(outDir), Is.False);
    }

    /// <summary>One flipped bit in X_q: before checksums this resumed "successfully" into a different checkpoint.</summary>
    [Test]
    public void AChangedActivationIsCaughtByTheChecksum()
    {
        string outDir = Stopped();
        string state = Work(outDir, "state.bin");
        var bytes = File.ReadAllBytes(state);
        bytes[bytes.Length - WorkFile.ChecksumBytes - 1000] ^= 0x10; // inside X_fp/X_q, not a count
        File.WriteAllBytes(state, bytes);
        AssertOneLineError(Quantize(outDir), "state.bin", "checksum does not match", "delete");
    }

    [Test]
    public void AMissingBlockFileIsNamed()
    {
        string outDir = Stopped();
        File.Delete(Work(outDir, "block-0.bin"));
        AssertOneLineError(Quantize(outDir), "block-0.bin", "missing", "2 finished blocks", "delete");
    }

    [TestCase(6)]
    [TestCase(99)]
    [TestCase(-1)]
    [TestCase(0)]
    public void ANextBlockPastTheEndIsDamaged(int next)
    {
        string outDir = Stopped();
        RewritePayload(Work(outDir, "state.bin"), p => BinaryPrimitives.WriteInt32LittleEndian(p.AsSpan(4), next));
        AssertOneLineError(Quantize(outDir), "state.bin", $"{next} finished blocks of a 5-block model", "delete");
    }

    /// <summary>A count past the file's end (here the layer reports') never allocates: it is damage.</summary>
    [Test]
    public void ACountThatDoesNotFitIsDamaged()
    {
        string outDir = Stopped();
        RewritePayload(Work(outDir, "state.bin"), p => BinaryPrimitives.WriteInt32LittleEndian(p.AsSpan(8), int.MaxValue));
        AssertOneLineError(Quantize(outDir), "state.bin", "does not fit", "delete");
    }

    /// <summary>A second run into the same --out is refused at once, naming the running process, and the first run's
    /// state is untouched.</summary>
    [Test]
    public void ASecondRunIntoTheSameOutIsRefused()
    {
        string outDir = Stopped();
        var before = File.ReadAllBytes(Work(outDir, "state.bin"));
        using (WorkDirectoryLock.Acquire(Work(outDir)))
            AssertOneLineError(Quantize(outDir), "another qn run", $"process {Environment.ProcessId}", "wait for it");
        Assert.That(File.ReadAllBytes(Work(outDir, "state.bin")), Is.EqualTo(before));
        Assert.That(Quantize(outDir).ExitCode, Is.EqualTo(0), "the lock went with its holder");
        Assert.That(Directory.Exists(Work(outDir)), Is.False);
    }

    /// <summary>A run that fails before finishing a block leaves no work directory behind.</summary>
    [Test]
    public void AFailedStartLeavesNothing()
    {
        string outDir = NewOut(), badTokenizer = Path.Combine(Dir, "not-a-tokenizer.bin");
        File.WriteAllBytes(badTokenizer, [1, 2, 3]);
        var o = CliRunner.Run("quantize", "--model", TestPaths.Stories260K, "--tokenizer", badTokenizer, "--calib", Calib,
            "--method", "omniquant", "--wbits", "3", "--out", outDir);
        AssertOneLineError(o, "not-a-tokenizer.bin");
        Assert.That(Directory.Exists(Work(outDir)), Is.False);
    }

    /// <summary>The work directory's place is taken by a file (as an unwritable location would be): one line naming
    /// the path and the OS's reason.</summary>
    [Test]
    public void AnUnusableLocationIsOneLine()
    {
        string outDir = NewOut();
        File.WriteAllText(outDir + ".qn-work", "not a directory");
        AssertOneLineError(Quantize(outDir), ".qn-work", "cannot create the work directory");
        Assert.That(Directory.Exists(outDir), Is.False);
    }

    /// <summary>A read-only location (procfs: read-only even to root, as CI runs): one line naming the path.</summary>
    [Test]
    public void AReadOnlyLocationIsOneLine()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("needs /proc");
        AssertOneLineError(Quantize("/proc/qn-read-only-test"), "/proc/qn-read-only-test.qn-work", "cannot create");
    }

    /// <summary>A write that fails (as on a full disk) removes its temporary file and keeps the last finished state,
    /// with one message naming the file, the OS's reason and that the same command continues.</summary>
    [Test]
    public void AFailedWriteRemovesItsPartialFile()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string file = Path.Combine(dir, "state.bin");
            WorkFile.Write(file, dir, w => w.Write(1));
            var kept = File.ReadAllBytes(file);
            var e = Assert.Throws<QuantNativeException>(() => WorkFile.Write(file, dir, w =>
            {
                w.Write(new byte[4096]);
                throw new IOException("No space left on device : '" + file + ".partial'");
            }));
            Assert.That(e!.Message, Does.Contain("state.bin").And.Contain("No space left on device").And.Contain("continues"));
            Assert.That(File.Exists(file + ".partial"), Is.False);
            Assert.That(File.ReadAllBytes(file), Is.EqualTo(kept));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Before a block trains, the space its state needs is checked against what the file system has free.</summary>
    [Test]
    public void TooLittleFreeSpaceIsRefusedBeforeTheBlock()
    {
        var work = new LearnedWorkDirectory(Path.Combine(Dir, "space-" + Guid.NewGuid().ToString("N")[..6]), "x\n");
        var e = Assert.Throws<QuantNativeException>(() => work.EnsureSpace(3, long.MaxValue / 2));
        Assert.That(e!.Message, Does.Contain("saving block 3 needs").And.Contain("MiB free").And.Contain("continues from block 3"));
        Assert.DoesNotThrow(() => work.EnsureSpace(3, 1));
    }
}
