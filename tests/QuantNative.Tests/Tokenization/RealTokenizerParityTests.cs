using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NUnit.Framework;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>
/// Real tokenizer.json files (../shared/tokenizers: Mistral, Llama 3 in both revisions, Qwen) give ids identical to
/// Hugging Face's tokenizers: both evaluation texts, and every case of reference/cases.jsonl with and without special
/// tokens, plus decode. One test per file.
/// </summary>
public class RealTokenizerParityTests
{
    public static readonly string[] Names = ["mistral", "llama3", "llama3-bos", "qwen"];

    private static string Dir(string name) => Path.Combine(TestPaths.Shared, "tokenizers", name);

    private static readonly Dictionary<string, HfTokenizerJson> Loaded = [];

    /// <summary>The file loaded as TokenizerLoader loads it (Hugging Face semantics), once per run.</summary>
    public static HfTokenizerJson Get(string name)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(name, out var tok))
            {
                var loaded = TokenizerLoader.Load(Dir(name), null);
                Assert.That(loaded, Is.TypeOf<HfTokenizerJson>());
                Loaded[name] = tok = (HfTokenizerJson)loaded;
            }
            return tok;
        }
    }

    private static int[] ReadIds(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToArray();

    private static string Escape(string s) => JsonSerializer.Serialize(s);

    [TestCaseSource(nameof(Names))]
    public void IdenticalIdsToHuggingFace(string name)
    {
        var tok = Get(name);
        var failures = new List<string>();
        foreach (string textPath in new[] { TestPaths.TinyStories, TestPaths.WikiText })
        {
            string text = File.ReadAllText(textPath);
            int[] expected = ReadIds(Path.Combine(Dir(name), "reference", Path.GetFileName(textPath) + ".ids.txt"));
            var clock = Stopwatch.StartNew();
            int[] ids = tok.Encode(text, addBos: tok.AddsBos);
            TestContext.Out.WriteLine($"{name} {Path.GetFileName(textPath)}: {ids.Length} ids in {clock.Elapsed.TotalSeconds:F2} s");
            if (!ids.SequenceEqual(expected))
            {
                int at = 0;
                while (at < Math.Min(ids.Length, expected.Length) && ids[at] == expected[at]) at++;
                failures.Add($"{Path.GetFileName(textPath)}: {ids.Length} ids vs {expected.Length}, first difference at {at}: " +
                             $"[{string.Join(",", ids.Skip(at).Take(8))}] vs [{string.Join(",", expected.Skip(at).Take(8))}]");
            }
            Assert.That(tok.EncodeWithSpecialTokens(text, addSpecialTokens: true), Is.EqualTo(ids), "template == addBos: AddsBos");
            if (ids.SequenceEqual(expected))
                Assert.That(tok.Decode(tok.Encode(text, addBos: false)), Is.EqualTo(text), $"decode of {textPath}");
        }

        int n = 0;
        foreach (string line in File.ReadLines(Path.Combine(Dir(name), "reference", "cases.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            string text = r.GetProperty("text").GetString()!;
            int[] special = r.GetProperty("ids_special").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] plain = r.GetProperty("ids_plain").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            string decoded = r.GetProperty("decoded").GetString()!;
            n++;
            int[] gotSpecial = tok.EncodeWithSpecialTokens(text, addSpecialTokens: true);
            int[] gotPlain = tok.EncodeWithSpecialTokens(text, addSpecialTokens: false);
            if (!gotSpecial.SequenceEqual(special))
                failures.Add($"case {n} {Escape(text)} ids_special: [{string.Join(",", gotSpecial)}] vs [{string.Join(",", special)}]");
            if (!gotPlain.SequenceEqual(plain))
                failures.Add($"case {n} {Escape(text)} ids_plain: [{string.Join(",", gotPlain)}] vs [{string.Join(",", plain)}]");
            if (!tok.Encode(text, addBos: tok.AddsBos).SequenceEqual(special))
                failures.Add($"case {n} {Escape(text)}: Encode(addBos: AddsBos) is not ids_special");
            string gotDecoded = tok.DecodeWithDecoder(plain, skipSpecialTokens: false);
            if (gotDecoded != decoded)
                failures.Add($"case {n} {Escape(text)} decoded: {Escape(gotDecoded)} vs {Escape(decoded)}");
        }
        Assert.That(n, Is.EqualTo(73));
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    [TestCase("mistral", 1, 2, true)]
    [TestCase("llama3", 128000, 128001, false)]
    [TestCase("llama3-bos", 128000, 128009, true)]
    [TestCase("qwen", -1, 151645, false)]
    public void BosAndEosAsTheTemplateAndConfigSay(string name, int bos, int eos, bool addsBos)
    {
        var tok = Get(name);
        Assert.That((tok.BosId, tok.EosId, tok.AddsBos), Is.EqualTo((bos, eos, addsBos)));
        ITextTokenizer viaInterface = tok;
        Assert.That(viaInterface.AddsBos, Is.EqualTo(addsBos));
        // An explicit BOS where one exists (Llama 3's older file too); nothing for Qwen, which has none.
        int[] plain = tok.Encode("Hello", addBos: false);
        Assert.That(tok.Encode("Hello", addBos: true), Is.EqualTo(bos >= 0 ? [bos, .. plain] : plain));
    }
}
