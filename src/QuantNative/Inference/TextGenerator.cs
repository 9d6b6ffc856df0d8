using QuantNative.Model;
using QuantNative.Tokenization;

namespace QuantNative.Inference;

/// <summary>What one generation produced.</summary>
public sealed record GenerationResult(int PromptTokens, int GeneratedTokens, string Text, double Seconds, string StopReason);

/// <summary>
/// Prompt → continuation with the KV cache: the prompt (with BOS) in one forward, then one token per step until
/// max-tokens, BOS/EOS, or the model's context is full. Text is streamed as it becomes valid UTF-8.
/// </summary>
public static class TextGenerator
{
    public static GenerationResult Generate(LlamaModel model, ITextTokenizer tokenizer, string prompt, int maxTokens,
        Sampler sampler, Action<string> onText, CancellationToken cancel = default)
    {
        if (maxTokens < 0) throw new QuantNativeException($"--max-tokens must be ≥ 0 (got {maxTokens})");
        var c = model.Config;
        int[] promptIds = tokenizer.EncodeAsTemplate(prompt);
        if (promptIds.Length == 0)
            throw new QuantNativeException("--prompt: the prompt is empty and the tokenizer's template adds no BOS, so there " +
                                           "is nothing to continue from; give a prompt");
        if (promptIds.Length >= c.MaxPositionEmbeddings)
            throw new QuantNativeException(
                $"the prompt has {promptIds.Length} tokens; the model's context is {c.MaxPositionEmbeddings}");
        int capacity = Math.Min(c.MaxPositionEmbeddings, promptIds.Length + maxTokens);
        var session = new InferenceSession(model, Math.Max(capacity, promptIds.Length));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var textIds = new List<int>(promptIds.Skip(tokenizer.AddsBos ? 1 : 0));
        var stream = new StreamingText(tokenizer);
        onText(stream.Update(textIds));

        float[] logits = session.Forward(promptIds);
        var last = logits.AsSpan(logits.Length - c.VocabSize);
        int generated = 0;
        string stop = "max-tokens";
        while (generated < maxTokens)
        {
            cancel.ThrowIfCancellationRequested();
            int next = sampler.Next(last);
            if (next == tokenizer.BosId || next == tokenizer.EosId) { stop = "end-of-text"; break; }
            generated++;
            textIds.Add(next);
            onText(stream.Update(textIds));
            if (generated == maxTokens) break;
            if (session.Position >= session.Capacity) { stop = "context-full"; break; }
            last = session.Forward([next]);
        }
        onText(stream.Flush(textIds));
        return new GenerationResult(promptIds.Length, generated, tokenizer.Decode(textIds.ToArray()),
            clock.Elapsed.TotalSeconds, stop);
    }

    /// <summary>Emits the new suffix of the decoded text, holding back an incomplete UTF-8 sequence at the end.</summary>
    private sealed class StreamingText(ITextTokenizer tokenizer)
    {
        private int _emitted;

        public string Update(List<int> ids)
        {
            string text = tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids));
            int end = text.Length;
            while (end > _emitted && text[end - 1] == '\uFFFD') end--;
            return Take(text, end);
        }

        public string Flush(List<int> ids)
        {
            string text = tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids));
            return Take(text, text.Length);
        }

        private string Take(string text, int end)
        {
            if (end <= _emitted) return "";
            string piece = text[_emitted..end];
            _emitted = end;
            return piece;
        }
    }
}
