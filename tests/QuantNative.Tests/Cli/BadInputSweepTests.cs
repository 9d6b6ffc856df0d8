using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>
/// Bad input as a rule, not case by case: for each kind of input `qn` reads, a generated sweep of broken versions
/// (every field of a JSON file set to each wrong type or value or removed, cuts and bad bytes at spread positions,
/// every llama2.c header field set to each bad value, bad options), each run through `qn` in-process. Every run must
/// end in exit code 0 (the change left a valid input) or in exactly one `error:` line with exit code 1, never a stack
/// trace. Each test prints "kind: N tried, R refused, A accepted", the counts docs/RELIABILITY.md's table gives.
/// </summary>
public class BadInputSweepTests : StoriesCheckpoints
{
    private string _text = "";

    [OneTimeSetUp]
    public void WriteText()
    {
        _text = Path.Combine(Fixture, "text.txt");
        File.WriteAllText(_text, "Once upon a time, there was a little cat named Tom. He liked to play.");
    }

    /// <summary>Tallies outcomes; a run that is neither success nor one clean error line fails the test at the end.</summary>
    private sealed class Sweep(string kind)
    {
        private readonly List<string> _bad = [];
        public int Tried, Refused, Accepted;

        public void Check(CliRunner.Outcome o, string what)
        {
            Tried++;
            var errors = o.Stderr.Split('\n').Count(l => l.StartsWith("error: "));
            if (o.ExitCode == 0 && errors == 0) Accepted++;
            else if (o.ExitCode == 1 && errors == 1 && !o.Stderr.Contains("   at ")) Refused++;
            else _bad.Add($"{what}: {o}");
        }

        public void Report()
        {
            TestContext.Progress.WriteLine($"{kind}: {Tried} tried, {Refused} refused with one line, {Accepted} accepted");
            Assert.That(_bad, Is.Empty, string.Join("\n\n", _bad.Take(5)));
        }
    }

    private static readonly JsonNode?[] BadValues =
        [0, -1, 2147483648L, 1e300, 1.5, "x", "", null, true, new JsonArray(), new JsonObject()];

    /// <summary>Each top-level field (and each of <paramref name="nested"/>'s) set to every bad value and removed.</summary>
    private void SweepJsonFields(Sweep sweep, string source, string file, string? nested, Func<string, CliRunner.Outcome> run)
    {
        var original = JsonNode.Parse(File.ReadAllText(Path.Combine(source, file)))!;
        var target = nested == null ? original.AsObject() : original[nested]!.AsObject();
        foreach (var key in target.Select(p => p.Key).ToList())
            foreach (var value in BadValues.Append(JsonValue.Create("__remove__")))
            {
                string dir = CopyOf(source);
                var json = original.DeepClone();
                var obj = nested == null ? json.AsObject() : json[nested]!.AsObject();
                if (value?.ToString() == "__remove__") obj.Remove(key);
                else obj[key] = value?.DeepClone();
                File.WriteAllText(Path.Combine(dir, file), json.ToJsonString());
                sweep.Check(run(dir), $"{file} {key} = {value?.ToJsonString() ?? "null"}");
                Directory.Delete(dir, true);
            }
    }

    /// <summary>The file cut at <paramref name="cuts"/> spread lengths, and each of a few bad bytes written at
    /// <paramref name="spots"/> spread positions.</summary>
    private void SweepBytes(Sweep sweep, string source, string file, int cuts, int spots, Func<string, CliRunner.Outcome> run)
    {
        var original = File.ReadAllBytes(Path.Combine(source, file));
        byte[] bad = [0x00, 0xFF, (byte)'"', (byte)'{', (byte)'9'];
        var variants = new List<(string, byte[])>();
        for (int i = 0; i < cuts; i++)
        {
            int length = (int)((long)original.Length * i / cuts);
            variants.Add(($"cut at {length}", original[..length]));
        }
        for (int i = 0; i < spots; i++)
        {
            int at = (int)((long)(original.Length - 1) * i / Math.Max(spots - 1, 1));
            foreach (byte b in bad)
            {
                var copy = (byte[])original.Clone();
                copy[at] = b;
                variants.Add(($"byte {at} = 0x{b:X2}", copy));
            }
        }
        foreach (var (what, bytes) in variants)
        {
            string dir = CopyOf(source);
            File.WriteAllBytes(Path.Combine(dir, file), bytes);
            sweep.Check(run(dir), $"{file} {what}");
            Directory.Delete(dir, true);
        }
    }

    private static CliRunner.Outcome Info(string dir) => CliRunner.Run("info", "--model", dir);

    private CliRunner.Outcome Eval(string dir) =>
        CliRunner.Run("eval", "--model", dir, "--text", TestPaths.TinyStories, "--ctx", "32", "--max-windows", "1");

    [Test]
    public void ConfigJson()
    {
        var sweep = new Sweep("config.json");
        SweepJsonFields(sweep, Hf, "config.json", null, Info);
        SweepBytes(sweep, Hf, "config.json", 20, 20, Info);
        sweep.Report();
    }

    [Test]
    public void SafetensorsHeaderAndData()
    {
        var sweep = new Sweep("model.safetensors");
        SweepBytes(sweep, Hf, "model.safetensors", 12, 40, Eval);
        sweep.Report();
    }

    [Test]
    public void TokenizerJson()
    {
        var sweep = new Sweep("tokenizer.json");
        string Tok(string dir) => Path.Combine(dir, "tokenizer.json");
        SweepBytes(sweep, Hf, "tokenizer.json", 20, 40,
            dir => CliRunner.Run("tokenize", "--tokenizer", Tok(dir), "--text", _text));
        sweep.Report();
    }

    [Test]
    public void SentencePieceModel()
    {
        var sweep = new Sweep("tokenizer.model");
        SweepBytes(sweep, Hf, "tokenizer.model", 20, 40,
            dir => CliRunner.Run("tokenize", "--tokenizer", Path.Combine(dir, "tokenizer.model"), "--text", _text));
        sweep.Report();
    }

    [Test]
    public void Llama2cTokenizer()
    {
        var sweep = new Sweep("tok512.bin");
        string source = CopyOf(Path.GetDirectoryName(TestPaths.Tok512)!);
        SweepBytes(sweep, source, "tok512.bin", 20, 40, dir => CliRunner.Run("eval", "--model", TestPaths.Stories260K,
            "--tokenizer", Path.Combine(dir, "tok512.bin"), "--text", _text, "--ctx", "8", "--max-windows", "1"));
        sweep.Report();
    }

    [Test]
    public void QuantizeConfigJson()
    {
        var sweep = new Sweep("quantize_config.json / quantization_config");
        SweepJsonFields(sweep, Gptq, "quantize_config.json", null, Info);
        SweepJsonFields(sweep, Gptq, "config.json", "quantization_config", Info);
        SweepBytes(sweep, Gptq, "quantize_config.json", 10, 10, Info);
        sweep.Report();
    }

    [Test]
    public void Llama2cCheckpointHeader()
    {
        var sweep = new Sweep("llama2.c checkpoint");
        var original = File.ReadAllBytes(TestPaths.Stories260K);
        string file = Path.Combine(Fixture, "bad.bin");
        foreach (int field in Enumerable.Range(0, 7))
            foreach (int value in new[] { 0, -1, 1, 3, 7, 1 << 20, int.MaxValue, int.MinValue })
            {
                var copy = (byte[])original.Clone();
                BitConverter.TryWriteBytes(copy.AsSpan(field * 4), value);
                File.WriteAllBytes(file, copy);
                sweep.Check(CliRunner.Run("eval", "--model", file, "--tokenizer", TestPaths.Tok512, "--text", _text,
                    "--ctx", "8", "--max-windows", "1"), $"header field {field} = {value}");
            }
        foreach (int cut in new[] { 0, 3, 27, 28, 1000, original.Length / 2, original.Length - 1 })
        {
            File.WriteAllBytes(file, original[..cut]);
            sweep.Check(CliRunner.Run("info", "--model", file), $"cut at {cut}");
        }
        sweep.Report();
    }

    [Test]
    public void Options()
    {
        var sweep = new Sweep("options");
        string[] quantize = ["quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--calib", _text];
        string Out() => Path.Combine(Fixture, "o-" + Guid.NewGuid().ToString("N")[..6]);
        string[][] cases =
        [
            [.. quantize, "--method", "rtn", "--wbits", "5", "--out", Out()],
            [.. quantize, "--method", "rtn", "--wbits", "4", "--group", "0", "--out", Out()],
            [.. quantize, "--method", "rtn", "--wbits", "4", "--group", "-2", "--out", Out()],
            [.. quantize, "--method", "nope", "--wbits", "4", "--out", Out()],
            [.. quantize, "--method", "gptq", "--wbits", "4", "--nsamples", "0", "--out", Out()],
            [.. quantize, "--method", "gptq", "--wbits", "4", "--nsamples", "-3", "--out", Out()],
            [.. quantize, "--method", "gptq", "--wbits", "4", "--seqlen", "1", "--out", Out()],
            [.. quantize, "--method", "gptq", "--wbits", "4", "--seqlen", "4096", "--out", Out()],
            [.. quantize, "--method", "gptq", "--wbits", "4", "--damp", "-1", "--out", Out()],
            [.. quantize, "--method", "gptq", "--wbits", "4", "--format", "v3", "--out", Out()],
            [.. quantize, "--method", "omniquant", "--wbits", "3", "--epochs", "-1", "--out", Out()],
            [.. quantize, "--method", "omniquant", "--wbits", "3", "--sym", "--init-from", Out(), "--out", Out()],
            [.. quantize, "--method", "cqe+", "--wbits", "3", "--sde", "band:-1", "--out", Out()],
            [.. quantize, "--method", "cqe+", "--wbits", "3", "--cll", "-1", "--out", Out()],
            [.. quantize, "--method", "rtn", "--wbits", "4", "--out", ""],
            [.. quantize, "--method", "rtn", "--wbits", "4", "--out", "/proc/qn-cannot-write"],
            ["convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--dtype", "f8", "--out", Out()],
            ["convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--max-shard-mb", "0", "--out", Out()],
            ["eval", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--text", _text, "--ctx", "0"],
            ["eval", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--text", _text, "--ctx", "100000"],
            ["eval", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--text", _text, "--max-windows", "-1"],
            ["eval", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--text", Path.Combine(Fixture, "none.txt")],
            ["eval", "--model", Fixture, "--text", _text],
            ["generate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--prompt", "Hi", "--max-tokens", "-1"],
            ["generate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--prompt", "Hi", "--temperature", "-1"],
            ["tokenize", "--tokenizer", _text, "--text", _text],
            ["info", "--model", ""],
        ];
        foreach (var args in cases)
        {
            var o = CliRunner.Run(args);
            Assert.That(o.ExitCode, Is.Not.Zero, $"{string.Join(' ', args)} should be refused\n{o}");
            sweep.Check(o, string.Join(' ', args));
        }
        sweep.Report();
    }
}
