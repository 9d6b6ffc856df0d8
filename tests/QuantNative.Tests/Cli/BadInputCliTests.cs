using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using NUnit.Framework;
using QuantNative.Formats;

using static QuantNative.Tests.Cli.CliRunner;

namespace QuantNative.Tests.Cli;

/// <summary>
/// Issue 16's reproductions through `qn` itself: each crashed (exit 134, a stack trace) or gave a silently wrong
/// result before, and now gives exit code 1 and one line naming the file, field, tensor or option.
/// </summary>
public class BadInputCliTests : StoriesCheckpoints
{
    private string _dir = "";

    [SetUp] public void MakeDir() => _dir = TestPaths.NewTempDir();
    [TearDown] public void RemoveDir() => Directory.Delete(_dir, true);

    private string Copy(string source) => CopyOf(source, _dir);

    /// <summary>Replaces the first occurrence of <paramref name="from"/> by <paramref name="to"/> (same length, so a
    /// safetensors header keeps its size) in a file's bytes.</summary>
    private static void ReplaceBytes(string file, string from, byte[] to)
    {
        var bytes = File.ReadAllBytes(file);
        int at = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(from));
        Assert.That(at, Is.GreaterThanOrEqualTo(0), $"'{from}' in {file}");
        to.CopyTo(bytes, at);
        File.WriteAllBytes(file, bytes);
    }

    private static readonly byte[] InvalidUtf8 = [0x22, 0xFF, 0xFE, 0x22];        // "\xFF\xFE"
    private static readonly byte[] LoneSurrogate = "\"\\ud800\""u8.ToArray();        // "\ud800", escaped

    // 1. Invalid UTF-8 (and an escaped lone surrogate) inside a JSON string, in each of the four JSON readers.
    [TestCase("config.json", "\"LlamaForCausalLM\"", "config.json")]
    [TestCase("model.safetensors", "\"model.embed_tokens.weight\"", "the safetensors header")]
    [TestCase("tokenizer.json", "\"added_tokens\"", "tokenizer.json")]
    public void InvalidUtf8InAJsonStringIsOneLine(string file, string text, string named)
    {
        foreach (var bad in new[] { InvalidUtf8, LoneSurrogate })
        {
            string hf = Copy(Hf);
            // Same length as the replaced string, so a safetensors header keeps its declared size.
            var replacement = bad.Concat(Enumerable.Repeat((byte)' ', text.Length - bad.Length)).ToArray();
            ReplaceBytes(Path.Combine(hf, file), text, replacement);
            var o = file == "tokenizer.json"
                ? Run("tokenize", "--tokenizer", Path.Combine(hf, file), "--text", TestPaths.TinyStories)
                : Run("eval", "--model", hf, "--text", TestPaths.TinyStories, "--max-windows", "1");
            AssertCleanError(o, file, named, bad == InvalidUtf8 ? "not valid UTF-8" : "not valid Unicode");
        }
    }

    [Test]
    public void InvalidUtf8InQuantizeConfigIsOneLine()
    {
        string gptq = Copy(Gptq);
        ReplaceBytes(Path.Combine(gptq, "quantize_config.json"), "\"gptq\"", [0x22, 0xC3, 0x28, 0x22, 0x20, 0x20]);
        AssertCleanError(Run("info", "--model", gptq), "quantize_config.json", "not valid UTF-8");
    }

    // 2. num_attention_heads: 0 was a DivideByZeroException.
    [TestCase("num_attention_heads", 0)]
    [TestCase("num_key_value_heads", 0)]
    [TestCase("hidden_size", 0)]
    [TestCase("num_hidden_layers", -1)]
    public void AZeroSizeInTheConfigIsOneLine(string field, int value)
    {
        string hf = Copy(Hf);
        EditConfig(hf, c => c[field] = value);
        AssertCleanError(Run("info", "--model", hf), "config.json", field);
    }

    // 3. --out '' was an ArgumentException from Path.GetFullPath.
    [Test]
    public void AnEmptyOutIsOneLine()
    {
        AssertCleanError(Run("quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--method", "rtn",
            "--wbits", "4", "--out", ""), "--out ''");
        AssertCleanError(Run("convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--out", " "), "--out ' '");
        AssertCleanError(Run("ablate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--calib",
            TestPaths.TinyStories, "--eval", TestPaths.TinyStories, "--out", ""), "--out ''");
    }

    // 5. A config declaring fewer layers than the checkpoint holds: quantize refuses instead of writing a truncated model.
    [Test]
    public void QuantizeRefusesACheckpointWithLayersTheConfigDoesNotDeclare()
    {
        string hf = Copy(Hf), outDir = Path.Combine(_dir, "q");
        EditConfig(hf, c => c["num_hidden_layers"] = 3);
        AssertCleanError(Run("quantize", "--model", hf, "--method", "rtn", "--wbits", "4", "--out", outDir),
            "model.layers.3", "num_hidden_layers");
        Assert.That(Directory.Exists(outDir), Is.False);
    }

    // 6. NaN/Inf in fp32 weights: eval printed "perplexity NaN" and exited 0.
    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    public void ANonFiniteWeightIsRefusedNamingTheTensor(float value)
    {
        string hf = Copy(Hf);
        const string tensor = "model.layers.2.mlp.up_proj.weight";
        string weights = Path.Combine(hf, "model.safetensors");
        using (var file = QuantNative.Formats.Safetensors.SafetensorsFile.Open(weights)) Assert.That(file.Contains(tensor));
        PoisonSafetensors(weights, tensor, 37, value);
        var o = Run("eval", "--model", hf, "--text", TestPaths.TinyStories, "--ctx", "64", "--max-windows", "1");
        AssertCleanError(o, tensor, "element 37", "finite");
        Assert.That(o.Stdout, Does.Not.Contain("perplexity"));
    }

    /// <summary>A BF16 checkpoint runs mapped, converted a tile at a time: each tile is checked as it is converted.</summary>
    [Test]
    public void ANonFiniteBf16WeightIsRefusedOnTheMappedPath()
    {
        string hf = Path.Combine(_dir, "bf16");
        Assert.That(Run("convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--dtype", "bf16",
            "--out", hf).ExitCode, Is.Zero);
        const string tensor = "model.layers.1.self_attn.o_proj.weight";
        string weights = Path.Combine(hf, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))!;
        long begin = header[tensor]!["data_offsets"]![0]!.GetValue<long>();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)(8 + headerLength + begin + 2 * 100)), 0x7FC0); // NaN
        File.WriteAllBytes(weights, bytes);
        AssertCleanError(Run("eval", "--model", hf, "--text", TestPaths.TinyStories, "--ctx", "64", "--max-windows", "1"),
            tensor, "element 100", "finite");
    }

    [Test]
    public void ANonFiniteLlama2cWeightIsRefused()
    {
        string model = Path.Combine(_dir, "nan.bin");
        var bytes = File.ReadAllBytes(TestPaths.Stories260K);
        // A 7-int header, then the token embedding [512, 64]: element 130 of it.
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(7 * 4 + 130 * 4), float.NegativeInfinity);
        File.WriteAllBytes(model, bytes);
        AssertCleanError(Run("eval", "--model", model, "--tokenizer", TestPaths.Tok512, "--text", TestPaths.TinyStories,
            "--ctx", "64", "--max-windows", "1"), "token_embedding_table", "element 130", "finite");
    }

    // 8. quant_method other than gptq, and config.json contradicting quantize_config.json.
    [TestCase("quantize_config.json")]
    [TestCase("config.json")]
    public void AnotherQuantMethodIsRefused(string file)
    {
        string gptq = Copy(Gptq);
        EditJson(Path.Combine(gptq, file), j =>
        {
            var q = file == "config.json" ? j["quantization_config"]! : j;
            q["quant_method"] = "awq";
        });
        AssertCleanError(Run("info", "--model", gptq), file, "\"awq\"", "only \"gptq\"");
    }

    [Test]
    public void AContradictingQuantizationConfigIsRefused()
    {
        string gptq = Copy(Gptq);
        EditJson(Path.Combine(gptq, "config.json"), j => j["quantization_config"]!["group_size"] = 64);
        AssertCleanError(Run("info", "--model", gptq), "quantization_config.group_size is 64", "quantize_config.json says 32");
    }

    // Leftovers: a killed run's .partial-* directory is removed by the next run into the same place; a live one is not.
    [Test]
    public void AStalePartialOutputIsRemovedByTheNextRun()
    {
        string outDir = Path.Combine(_dir, "out");
        string stale = Path.Combine(_dir, ".out.partial-2147483600-0123456789abcdef"); // no such process
        string live = Path.Combine(_dir, $".out.partial-{Environment.ProcessId}-fedcba9876543210");
        string foreign = Path.Combine(_dir, ".out.partial-0123456789abcdef0123456789abcdef"); // not our naming
        foreach (var d in new[] { stale, live, foreign })
        {
            Directory.CreateDirectory(d);
            File.Copy(Path.Combine(Hf, "config.json"), Path.Combine(d, "config.json"));
        }
        Assert.That(Run("convert", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--out", outDir).ExitCode, Is.Zero);
        Assert.That(Directory.Exists(stale), Is.False, "the killed run's copy");
        Assert.That(Directory.Exists(live), "a running process's copy stays");
        Assert.That(Directory.Exists(foreign), "a name without a process id is not ours to remove");
    }

    [Test]
    public void ReplacingNamesTheForceOption()
    {
        string temp = Path.Combine(_dir, "t"), final = Path.Combine(_dir, "f");
        Directory.CreateDirectory(temp);
        Directory.CreateDirectory(final);
        var e = Assert.Throws<QuantNativeException>(() => AtomicOutput.CommitDirectory(temp, final, overwrite: false));
        Assert.That(e!.Message, Does.Contain("use --force to replace it").And.Not.Contain("ask for overwrite"));
    }

    // --nsamples far beyond the text: a warning (not a refusal; see CalibrationSampler.OverlapWarning).
    [Test]
    public void MoreCalibrationTokensThanTheTextHoldsIsWarned()
    {
        string calib = Path.Combine(_dir, "short.txt");
        File.WriteAllText(calib, string.Concat(Enumerable.Repeat("Once upon a time there was a little cat. ", 30)));
        var o = Run("quantize", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512, "--calib", calib,
            "--method", "gptq", "--wbits", "4", "--nsamples", "40", "--seqlen", "64", "--out", Path.Combine(_dir, "q"));
        Assert.That(o.ExitCode, Is.Zero, o.ToString());
        Assert.That(o.Stderr, Does.Contain("warning: --nsamples 40 × 64 tokens draws 2,560 tokens from a text of"));
        Assert.That(QuantNative.Quantization.CalibrationSampler.OverlapWarning(10_000, 40, 64), Is.Null);
    }

    private static void EditConfig(string dir, Action<JsonNode> edit) => EditJson(Path.Combine(dir, "config.json"), edit);

    private static void EditJson(string path, Action<JsonNode> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    /// <summary>Sets element <paramref name="index"/> of an F32 tensor in place.</summary>
    private static void PoisonSafetensors(string path, string tensor, int index, float value)
    {
        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))!;
        long begin = header[tensor]!["data_offsets"]![0]!.GetValue<long>();
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(8 + headerLength + begin + index * 4)), value);
        File.WriteAllBytes(path, bytes);
    }
}
