using System.Diagnostics;
using System.Text.RegularExpressions;
using NUnit.Framework;
using QuantNative.Cli.Doctor;

namespace QuantNative.Tests.Cli.FirstFive;

/// <summary>`qn doctor` on this machine (which has what the CPU engine needs) and on one without OpenBLAS (hidden from
/// the resolver by $QN_HIDE_LIBRARIES, in a separate process since the resolver caches what it loaded); `qn --version`;
/// the fatbin reader the doctor lists architectures with.</summary>
public class DoctorTests
{
    [Test]
    public void PassesHereWithEveryLineOkOrMissing()
    {
        var o = CliRunner.Run("doctor");
        Assert.That(o.ExitCode, Is.Zero, o.ToString());
        foreach (var name in new[] { "openblas", "lapacke", "cpu", "builtin", "emulator" })
            Assert.That(o.Stdout, Does.Match($"(?m)^ok +{name} "), o.Stdout);
        foreach (var name in new[] { "fatbins", "cuda driver", "gpu", "cublas", "cusolver", "memory", "disk" })
            Assert.That(o.Stdout, Does.Match($"(?m)^(ok|missing|low) +{name} "), o.Stdout);
        Assert.That(o.Stdout, Does.Contain("result: ready for the CPU engine"));
        foreach (Match m in Regex.Matches(o.Stdout, "(?m)^missing .*\n(.*)"))
            Assert.That(m.Groups[1].Value, Does.Contain("fix: "), $"a missing line is followed by its fix: {m.Value}");
    }

    [Test]
    public void NamesOpenBlasMissingWhereItIsHidden()
    {
        var env = new Dictionary<string, string?> { ["QN_HIDE_LIBRARIES"] = "openblas" };
        var o = ToolProcess.Run(ToolProcess.BesideTests, TestPaths.RepoRoot, env, "doctor");
        Assert.That(o.ExitCode, Is.EqualTo(1), o.ToString());
        Assert.That(o.Stdout, Does.Match("(?m)^missing +openblas +not found"), o.Stdout);
        Assert.That(o.Stdout, Does.Contain("fix: sudo apt-get install libopenblas0-pthread"));
        Assert.That(o.Stdout, Does.Match("(?m)^ok +lapacke "), "only what was hidden is missing");
        Assert.That(o.Stdout, Does.Contain("result: qn cannot run here until openblas is installed"));

        // And a verb that needs it says the same in one line, not a stack trace.
        var eval = ToolProcess.Run(ToolProcess.BesideTests, TestPaths.RepoRoot, env, "quantize", "--method", "gptq",
            "--wbits", "4", "--nsamples", "2", "--out", Path.Combine(Path.GetTempPath(), "qn-never-" + Guid.NewGuid().ToString("N")));
        Assert.That(eval.ExitCode, Is.EqualTo(1), eval.ToString());
        Assert.That(eval.Stderr, Does.Contain("error: cannot load openblas").And.Contain("hidden by $QN_HIDE_LIBRARIES"));
        Assert.That(eval.Stderr, Does.Not.Contain("   at "));
    }

    [Test]
    public void VersionNamesTheCommitItWasBuiltFrom()
    {
        var o = CliRunner.Run("--version");
        Assert.That(o.ExitCode, Is.Zero, o.ToString());
        var lines = o.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[1], Does.StartWith("openblas ok, lapacke ok, cpu ok"), "the doctor's one-line summary");
        if (!Path.Exists(Path.Combine(TestPaths.RepoRoot, ".git")))
        {
            Assert.That(lines[0], Does.EndWith("commit unknown (not built from a git checkout)"));
            return;
        }
        var m = Regex.Match(lines[0], "^qn [0-9.]+, commit ([0-9a-f]{40})$");
        Assert.That(m.Success, o.Stdout);
        // A commit of this repository (HEAD when the build is fresh; an earlier one if commits came after the build).
        var git = Process.Start(new ProcessStartInfo("git", ["-C", TestPaths.RepoRoot, "cat-file", "-e", m.Groups[1].Value + "^{commit}"])
            { RedirectStandardError = true })!;
        git.WaitForExit();
        Assert.That(git.ExitCode, Is.Zero, $"{m.Groups[1].Value} is not a commit of {TestPaths.RepoRoot}");
    }

    [Test]
    public void FatbinArchitecturesAreReadFromTheEntryHeaders()
    {
        string path = Path.Combine(Path.GetTempPath(), $"qn-test-{Guid.NewGuid():N}.fatbin");
        try
        {
            // File header, then an sm_80 cubin of 8 bytes and an sm_90 PTX of 4 bytes (64-byte entry headers).
            var entries = new List<byte>();
            foreach (var (kind, arch, size) in new[] { (2, 80, 8), (1, 90, 4) })
            {
                var header = new byte[64];
                BitConverter.GetBytes((ushort)kind).CopyTo(header, 0);
                BitConverter.GetBytes(64u).CopyTo(header, 4);
                BitConverter.GetBytes((ulong)size).CopyTo(header, 8);
                BitConverter.GetBytes((uint)arch).CopyTo(header, 28);
                entries.AddRange(header);
                entries.AddRange(new byte[size]);
            }
            var file = new List<byte>();
            file.AddRange(BitConverter.GetBytes(0xBA55ED50u));
            file.AddRange(BitConverter.GetBytes((ushort)1));
            file.AddRange(BitConverter.GetBytes((ushort)16));
            file.AddRange(BitConverter.GetBytes((ulong)entries.Count));
            file.AddRange(entries);
            File.WriteAllBytes(path, file.ToArray());
            Assert.That(FatbinContents.Architectures(path), Is.EqualTo(new[] { "sm_80", "sm_90 PTX" }));

            File.WriteAllBytes(path, file.Take(file.Count - 1).ToArray());
            Assert.That(() => FatbinContents.Architectures(path), Throws.TypeOf<QuantNativeException>().With.Message.Contains(path));
            File.WriteAllBytes(path, "not a fatbin"u8.ToArray());
            Assert.That(() => FatbinContents.Architectures(path), Throws.TypeOf<QuantNativeException>().With.Message.Contains("not a CUDA fatbin"));
        }
        finally
        {
            File.Delete(path);
        }

        // The fatbins ./build.sh --cuda makes (CI builds them): the architectures CMakeLists.txt asks nvcc for.
        string built = Path.Combine(TestPaths.RepoRoot, "artifacts", "kernels", "quant.fatbin");
        if (File.Exists(built))
            Assert.That(FatbinContents.Architectures(built), Is.SupersetOf(new[] { "sm_80", "sm_86", "sm_89", "sm_90", "sm_90 PTX" }));
    }
}
