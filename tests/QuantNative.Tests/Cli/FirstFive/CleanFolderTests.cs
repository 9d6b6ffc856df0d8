using System.Globalization;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace QuantNative.Tests.Cli.FirstFive;

/// <summary>
/// The README's first commands as a newcomer runs them: the published tool (bin/, what ./build.sh makes) copied to an
/// empty folder far from the repository, run from another empty folder with a fresh home, so neither ../shared, the
/// repository's artifacts nor an earlier cache of the built-in model can be reached. The three commands must complete,
/// print real numbers and leave the output the README shows.
/// </summary>
public class CleanFolderTests
{
    [Test]
    public void QuantizeEvalGenerateRunWithNothingButTheBuild()
    {
        string published = Path.Combine(TestPaths.RepoRoot, "bin");
        Assert.That(File.Exists(Path.Combine(published, "qn.dll")), $"{published}/qn.dll: run ./build.sh (build.sh test does)");
        // build.sh publishes (for this machine's runtime, so not byte-identical) after it builds the solution: a bin/
        // older than the build under test is a stale tool.
        Assert.That(File.GetLastWriteTimeUtc(Path.Combine(published, "qn.dll")),
            Is.GreaterThanOrEqualTo(File.GetLastWriteTimeUtc(ToolProcess.BesideTests).AddSeconds(-2)),
            "bin/ is older than the build under test: run ./build.sh (build.sh test publishes before testing)");

        string root = TestPaths.NewTempDir();
        try
        {
            string tool = Path.Combine(root, "tool"), work = Path.Combine(root, "work"), home = Path.Combine(root, "home");
            CopyDirectory(published, tool);
            Directory.CreateDirectory(work);
            Directory.CreateDirectory(home);
            Assert.That(Directory.Exists(Path.Combine(work, "..", "shared")), Is.False);
            var env = new Dictionary<string, string?>
            {
                ["HOME"] = home, ["XDG_CACHE_HOME"] = null, ["QN_NATIVE_DIR"] = null, ["QN_KERNEL_DIR"] = null, ["CI"] = "1",
            };
            string qn = Path.Combine(tool, "qn.dll");

            var quantize = ToolProcess.Run(qn, work, env, "quantize", "--method", "cqe+", "--wbits", "3", "--group", "32", "--out", "demo-w3");
            Assert.That(quantize.ExitCode, Is.Zero, quantize.ToString());
            Assert.That(quantize.Stderr, Does.StartWith("model: builtin:stories260K"));
            Assert.That(quantize.Stdout, Does.Contain("method         cqe+ W3 asym g32"));
            Assert.That(File.Exists(Path.Combine(work, "demo-w3", "model.safetensors")));
            Assert.That(Directory.GetDirectories(Path.Combine(home, ".cache", "quantnative", "builtin")), Has.Length.EqualTo(1),
                "the built-in files were written under the fresh home");

            var eval = ToolProcess.Run(qn, work, env, "eval", "--model", "demo-w3");
            Assert.That(eval.ExitCode, Is.Zero, eval.ToString());
            Assert.That(eval.Stdout, Does.Contain("text         builtin:tinystories-heldout"));
            double ppl = double.Parse(Regex.Match(eval.Stdout, @"perplexity +([0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
            // fp32 stories260K has about 5 on TinyStories and a uniform guess 512: a working W3 model lies far below.
            Assert.That(ppl, Is.InRange(5.0, 20.0), eval.Stdout);

            var generate = ToolProcess.Run(qn, work, env, "generate", "--model", "demo-w3", "--prompt", "Once upon a time", "--max-tokens", "40");
            Assert.That(generate.ExitCode, Is.Zero, generate.ToString());
            Assert.That(generate.Stdout, Does.StartWith("Once upon a time"));
            Assert.That(generate.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries), Has.Length.GreaterThan(20));
            Assert.That(generate.Stderr, Does.Contain("generated 40 tokens"));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(from)) CopyDirectory(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
