using System.Text;
using QuantNative.Formats.HuggingFace;

namespace QuantNative.Tokenization;

/// <summary>
/// The tokenizer in the forms Hugging Face loaders read, as files for a checkpoint directory: tokenizer.model
/// (SentencePiece) and tokenizer.json made from a llama2.c vocabulary, or the given file copied as it is, plus
/// tokenizer_config.json. `qn convert` and `qn quantize` both write these.
/// </summary>
public static class TokenizerFiles
{
    /// <summary>The companions of a tokenizer file that loaders read beside it, copied as they were when the source
    /// directory has them: its config keeps the source's class and bos/eos (Llama 3's &lt;|begin_of_text|&gt;, Qwen's
    /// none), which the LLaMA default below would replace with &lt;s&gt; and &lt;/s&gt;.</summary>
    private static readonly string[] Companions = ["tokenizer_config.json", "special_tokens_map.json"];

    public static IEnumerable<ExtraFile> For(ITextTokenizer tokenizer)
    {
        string? sourcePath = null;
        switch (tokenizer)
        {
            case Llama2cTokenizer llama2c:
                yield return new ExtraFile("tokenizer.model", s => s.Write(SentencePieceModelWriter.ToBytes(llama2c)));
                yield return new ExtraFile("tokenizer.json", s => s.Write(HfTokenizerJsonWriter.ToBytes(llama2c)));
                break;
            case SentencePieceTokenizer sp:
                yield return ExtraFile.CopyOf(sourcePath = sp.SourcePath, "tokenizer.model");
                break;
            case HfTokenizerJson json:
                yield return ExtraFile.CopyOf(sourcePath = json.SourcePath, "tokenizer.json");
                break;
        }
        string? directory = sourcePath == null ? null : Path.GetDirectoryName(Path.GetFullPath(sourcePath));
        bool hasConfig = false;
        foreach (string name in Companions)
        {
            string companion = Path.Combine(directory ?? "", name);
            if (directory == null || !File.Exists(companion)) continue;
            hasConfig |= name == Companions[0];
            yield return ExtraFile.CopyOf(companion, name);
        }
        if (!hasConfig)
            yield return new ExtraFile("tokenizer_config.json", s => s.Write(Encoding.UTF8.GetBytes(TokenizerConfigJson)));
    }

    private const string TokenizerConfigJson = """
        {
          "tokenizer_class": "LlamaTokenizer",
          "add_bos_token": true,
          "add_eos_token": false,
          "bos_token": "<s>",
          "eos_token": "</s>",
          "unk_token": "<unk>",
          "legacy": true,
          "clean_up_tokenization_spaces": false
        }
        """;
}
