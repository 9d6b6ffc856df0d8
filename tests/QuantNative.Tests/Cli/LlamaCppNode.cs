using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace QuantNative.Tests.Cli;

/// <summary>
/// llama.cpp as node-llama-cpp packages it (tools/gguf-check, installed by build.sh test into its node_modules): runs
/// tools/gguf-check/llama-cpp-eval.mjs on a GGUF file. Without node or the package the tests that need it are ignored
/// with the reason, unless QN_REQUIRE_LLAMA_CPP is set (build.sh test sets it: there a missing install is a failure).
/// </summary>
public static class LlamaCppNode
{
    public static string Dir => Path.Combine(TestPaths.RepoRoot, "tools", "gguf-check");

    public sealed record TextResult(string Text, int[] Ids, int Windows, int Predicted, double? Nll, double? Ppl, int[] Greedy);

    /// <summary>Ignores (or, under build.sh test, fails) the calling test when llama.cpp cannot be run here.</summary>
    public static void RequireInstalled()
    {
        string? why = !File.Exists(Path.Combine(Dir, "node_modules", "node-llama-cpp", "package.json"))
            ? $"node-llama-cpp is not installed in {Dir}/node_modules (./build.sh test installs it)"
            : FindNode() == null ? "node is not on PATH" : null;
        if (why == null) return;
        if (Environment.GetEnvironmentVariable("QN_REQUIRE_LLAMA_CPP") is { Length: > 0 }) Assert.Fail(why);
        Assert.Ignore(why);
    }

    private static string? FindNode() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "node")).FirstOrDefault(File.Exists);

    /// <param name="scoreTexts">The texts whose windows are scored and continued greedily (the others only tokenized).</param>
    public static TextResult[] Run(string gguf, string[] texts, string[] scoreTexts, int ctx, int windows, int greedyPrompt, int greedyTokens)
    {
        string output = Path.Combine(Path.GetDirectoryName(gguf)!, Path.GetFileNameWithoutExtension(gguf) + ".llama-cpp.json");
        string args = JsonSerializer.Serialize(new
        {
            model = gguf, texts, scoreTexts, ctx, windows, greedyPrompt, greedyTokens, @out = output,
        });
        var start = new ProcessStartInfo(FindNode()!) { WorkingDirectory = Dir, RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Path.Combine(Dir, "llama-cpp-eval.mjs"));
        start.ArgumentList.Add(args);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.EqualTo(0), $"node llama-cpp-eval.mjs {args}\n{stdout.Result}\n{stderr.Result}");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(output));
        return doc.RootElement.GetProperty("texts").EnumerateArray().Select(t => new TextResult(
            t.GetProperty("text").GetString()!,
            t.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
            t.GetProperty("windows").GetInt32(), t.GetProperty("predicted").GetInt32(),
            t.GetProperty("nll").ValueKind == JsonValueKind.Null ? null : t.GetProperty("nll").GetDouble(),
            t.GetProperty("ppl").ValueKind == JsonValueKind.Null ? null : t.GetProperty("ppl").GetDouble(),
            t.GetProperty("greedy").EnumerateArray().Select(i => i.GetInt32()).ToArray())).ToArray();
    }
}
