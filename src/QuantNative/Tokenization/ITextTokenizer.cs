namespace QuantNative.Tokenization;

/// <summary>
/// Text ↔ token ids for a LLaMA-family vocabulary: SentencePiece BPE with byte fallback (llama2.c, tokenizer.model,
/// SentencePiece-style tokenizer.json), or byte-level BPE (Llama 3, Qwen tokenizer.json).
/// SentencePiece-style tokenizers add the dummy-prefix space on Encode and remove it on Decode, so
/// Decode(Encode(x, false)) == x.
/// </summary>
public interface ITextTokenizer
{
    int VocabSize { get; }

    /// <summary>The BOS id, or -1 when the vocabulary has no BOS token (Qwen).</summary>
    int BosId { get; }

    /// <summary>The EOS id, or -1 when the vocabulary has none.</summary>
    int EosId { get; }

    /// <summary>The padding id (tokenizer_config.json's pad_token, GGUF's padding_token_id), or -1 when the tokenizer
    /// names none. qn never pads a sequence; it is carried so that an export keeps it.</summary>
    int PadId => -1;

    /// <summary>
    /// Whether the tokenizer's own template starts a sequence with BOS (Hugging Face's add_special_tokens; LLaMA's
    /// SentencePiece add_bos_token): true for LLaMA 1/2, Mistral and Llama 3's later tokenizer.json, false for Llama
    /// 3's earlier one and Qwen. The perplexity protocol tokenizes with <see cref="EncodeAsTemplate"/>.
    /// </summary>
    bool AddsBos { get; }

    /// <summary>The ids as the model saw them in training: BOS at the start where the template adds it, none where it
    /// does not (DESIGN.md §6). What eval, calibration and generation encode with.</summary>
    int[] EncodeAsTemplate(string text) => Encode(text, addBos: AddsBos);

    /// <summary>Token ids of <paramref name="text"/>, with BOS first when <paramref name="addBos"/> (and the
    /// tokenizer has a BOS token).</summary>
    int[] Encode(string text, bool addBos);

    /// <summary>The text of a token sequence (BOS/EOS and other special tokens dropped, byte tokens joined into UTF-8).</summary>
    string Decode(ReadOnlySpan<int> ids);
}
