using QuantNative.Model;
using QuantNative.Tokenization;

namespace QuantNative.Inference;

/// <summary>What one generation produced.</summary>
public sealed record GenerationResult(int PromptTokens, int GeneratedTokens, string Text, double Seconds, string StopReason)
{
    /// <summary>The generated ids, in order (the prompt's not included).</summary>
    public IReadOnlyList<int> Ids { get; init; } = [];

    /// <summary>The prompt's forward pass (prefill), part of <see cref="Seconds"/>.</summary>
    public double PromptSeconds { get; init; }

    public double PromptTokensPerSecond => PromptTokens / Math.Max(PromptSeconds, 1e-9);
    public double GeneratedTokensPerSecond => GeneratedTokens / Math.Max(Seconds - PromptSeconds, 1e-9);
}

/// <summary>
/// Prompt → continuation with the KV cache: the prompt (with BOS) in one forward, then one token per step until
/// max-tokens, BOS/EOS (unless told to run on), or the model's context is full. Text is streamed as it becomes valid
/// UTF-8.
/// </summary>
public static class TextGenerator
{
    /// <summary>Continues <paramref name="prompt"/>, encoded as the tokenizer's template says (BOS or not).</summary>
    public static GenerationResult Generate(LlamaModel model, ITextTokenizer tokenizer, string prompt, int maxTokens,
        Sampler sampler, Action<string> onText, CancellationToken cancel = default)
        => Generate(InferenceModel.From(model), tokenizer, prompt, maxTokens, sampler, onText, cancel);

    /// <param name="engine">runs the forward passes (a device, <see cref="Device.DeviceDecodeEngine"/>); null: the CPU</param>
    public static GenerationResult Generate(InferenceModel model, ITextTokenizer tokenizer, string prompt, int maxTokens,
        Sampler sampler, Action<string> onText, CancellationToken cancel = default, IDecodeEngine? engine = null)
    {
        int[] promptIds = tokenizer.EncodeAsTemplate(prompt);
        if (promptIds.Length == 0)
            throw new QuantNativeException("--prompt: the prompt is empty and the tokenizer's template adds no BOS, so there " +
                                           "is nothing to continue from; give a prompt");
        return Generate(model, tokenizer, promptIds, maxTokens, sampler, stopAtEnd: true, onText, cancel, engine);
    }

    /// <summary>Continues the ids <paramref name="promptIds"/> as they are (another stack's tokenization, a
    /// reference's); with <paramref name="stopAtEnd"/> false, BOS and EOS are generated like any token.</summary>
    public static GenerationResult Generate(LlamaModel model, ITextTokenizer tokenizer, int[] promptIds, int maxTokens,
        Sampler sampler, bool stopAtEnd, Action<string> onText, CancellationToken cancel = default)
        => Generate(InferenceModel.From(model), tokenizer, promptIds, maxTokens, sampler, stopAtEnd, onText, cancel);

    public static GenerationResult Generate(InferenceModel model, ITextTokenizer tokenizer, int[] promptIds, int maxTokens,
        Sampler sampler, bool stopAtEnd, Action<string> onText, CancellationToken cancel = default,
        IDecodeEngine? engine = null)
    {
        if (maxTokens < 0) throw new QuantNativeException($"--max-tokens must be ≥ 0 (got {maxTokens})");
        var c = model.Config;
        if (promptIds.Length == 0) throw new QuantNativeException("the prompt has no tokens: nothing to continue from");
        foreach (int id in promptIds)
            if ((uint)id >= (uint)c.VocabSize)
                throw new QuantNativeException($"prompt token id {id} is outside the vocabulary of {c.VocabSize}");
        if (promptIds.Length >= c.MaxPositionEmbeddings)
            throw new QuantNativeException(
                $"the prompt has {promptIds.Length} tokens; the model's context is {c.MaxPositionEmbeddings}");
        int capacity = Math.Min(c.MaxPositionEmbeddings, promptIds.Length + maxTokens);
        using var session = (engine ?? new CpuDecodeEngine(model)).Open(Math.Max(capacity, promptIds.Length));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var textIds = new List<int>(promptIds.Skip(promptIds[0] == tokenizer.BosId ? 1 : 0));
        var generatedIds = new List<int>();
        var stream = new StreamingText(tokenizer);
        onText(stream.Update(textIds));

        // Greedy: the session picks the token (a device sends back 4 bytes); sampling reads the last row's logits.
        int Step(ReadOnlySpan<int> ids) => sampler.IsGreedy ? session.ForwardGreedy(ids) : sampler.Next(session.ForwardLast(ids));
        int next = Step(promptIds);
        double promptSeconds = clock.Elapsed.TotalSeconds;
        int generated = 0;
        string stop = "max-tokens";
        while (generated < maxTokens)
        {
            cancel.ThrowIfCancellationRequested();
            if (stopAtEnd && (next == tokenizer.BosId || next == tokenizer.EosId)) { stop = "end-of-text"; break; }
            generated++;
            generatedIds.Add(next);
            textIds.Add(next);
            onText(stream.Update(textIds));
            if (generated == maxTokens) break;
            if (session.Position >= session.Capacity) { stop = "context-full"; break; }
            next = Step([next]);
        }
        onText(stream.Flush(textIds));
        return new GenerationResult(promptIds.Length, generated, tokenizer.Decode(textIds.ToArray()),
            clock.Elapsed.TotalSeconds, stop) { Ids = generatedIds, PromptSeconds = promptSeconds };
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
