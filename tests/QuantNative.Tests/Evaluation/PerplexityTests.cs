using NUnit.Framework;
using QuantNative.Evaluation;
using QuantNative.Model;
using QuantNative.Tests.Inference;

namespace QuantNative.Tests.Evaluation;

public class PerplexityTests
{
    private static readonly LlamaConfig Config = new(16, 24, 2, 4, 2, 23, 40, 1e-5f, 10000f, false);

    [Test]
    public void FollowsTheWindowProtocol()
    {
        var model = RandomModels.Create(Config, seed: 11);
        var tokens = RandomModels.Tokens(107, Config.VocabSize, seed: 12); // 3 windows of 32, 11 tokens left over
        var result = Perplexity.Evaluate(model, tokens, ctx: 32);

        double nll = 0;
        for (int w = 0; w < 3; w++)
        {
            var window = tokens.AsSpan(w * 32, 32).ToArray();
            var logits = DoubleForward.Logits(model, window);
            for (int i = 0; i < 31; i++)
            {
                var row = logits.AsSpan(i * Config.VocabSize, Config.VocabSize);
                double max = double.NegativeInfinity;
                foreach (var v in row) max = Math.Max(max, v);
                double sum = 0;
                foreach (var v in row) sum += Math.Exp(v - max);
                nll += Math.Log(sum) + max - row[window[i + 1]];
            }
        }
        nll /= 3 * 31;
        Assert.Multiple(() =>
        {
            Assert.That(result.Windows, Is.EqualTo(3));
            Assert.That(result.AvailableWindows, Is.EqualTo(3));
            Assert.That(result.Predicted, Is.EqualTo(93));
            Assert.That(result.Tokens, Is.EqualTo(96));
            Assert.That(result.TextTokens, Is.EqualTo(107));
            Assert.That(result.Nll, Is.EqualTo(nll).Within(Tolerances.Fp32VsFloat64ForwardAbs));
            Assert.That(result.Ppl, Is.EqualTo(Math.Exp(result.Nll)).Within(1e-12));
        });
    }

    [Test]
    public void MaxWindowsEvaluatesTheFirstWindows()
    {
        var model = RandomModels.Create(Config, seed: 13);
        var tokens = RandomModels.Tokens(100, Config.VocabSize, seed: 14);
        var first = Perplexity.Evaluate(model, tokens[..25], ctx: 25);
        var limited = Perplexity.Evaluate(model, tokens, ctx: 25, maxWindows: 1);
        Assert.That(limited.Windows, Is.EqualTo(1));
        Assert.That(limited.AvailableWindows, Is.EqualTo(4));
        Assert.That(limited.Nll, Is.EqualTo(first.Nll));
    }

    [Test]
    public void RejectsImpossibleWindows()
    {
        var model = RandomModels.Create(Config, seed: 15);
        var tokens = RandomModels.Tokens(30, Config.VocabSize, seed: 16);
        Assert.That(() => Perplexity.Evaluate(model, tokens, ctx: 41),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("--ctx 41").And.Message.Contains("40"));
        Assert.That(() => Perplexity.Evaluate(model, tokens, ctx: 31),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("30 tokens").And.Message.Contains("one window"));
        Assert.That(() => Perplexity.Evaluate(model, tokens, ctx: 10, maxWindows: 0),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("--max-windows"));
        Assert.That(() => Perplexity.Evaluate(model, tokens, ctx: 1),
            Throws.InstanceOf<QuantNativeException>().With.Message.Contains("--ctx 1"));
    }

    [Test]
    public void TextFileMustBeNonEmptyUtf8()
    {
        string dir = TestPaths.NewTempDir();
        try
        {
            string empty = Path.Combine(dir, "empty.txt"), bad = Path.Combine(dir, "latin1.txt");
            File.WriteAllBytes(empty, []);
            File.WriteAllBytes(bad, [0x63, 0x61, 0x66, 0xE9, 0x0A]); // "café" in Latin-1
            Assert.That(() => TextFile.ReadUtf8(empty), Throws.InstanceOf<QuantNativeException>()
                .With.Message.Contains(empty).And.Message.Contains("empty"));
            Assert.That(() => TextFile.ReadUtf8(bad), Throws.InstanceOf<QuantNativeException>()
                .With.Message.Contains(bad).And.Message.Contains("UTF-8").And.Message.Contains("offset 3"));
            Assert.That(() => TextFile.ReadUtf8(Path.Combine(dir, "missing.txt")), Throws.InstanceOf<QuantNativeException>()
                .With.Message.Contains("not found"));
            File.WriteAllBytes(bad, [0xEF, 0xBB, 0xBF, 0x61]);
            Assert.That(TextFile.ReadUtf8(bad), Is.EqualTo("a"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
