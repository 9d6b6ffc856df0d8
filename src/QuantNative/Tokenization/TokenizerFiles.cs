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
    public static IEnumerable<ExtraFile> For(ITextTokenizer tokenizer)
    {
        switch (tokenizer)
        {
            case Llama2cTokenizer llama2c:
                yield return new ExtraFile("tokenizer.model", s => s.Write(SentencePieceModelWriter.ToBytes(llama2c)));
                yield return new ExtraFile("tokenizer.json", s => s.Write(HfTokenizerJsonWriter.ToBytes(llama2c)));
                break;
            case SentencePieceTokenizer sp:
                yield return ExtraFile.CopyOf(sp.SourcePath, "tokenizer.model");
                break;
            case HfTokenizerJson json:
                yield return ExtraFile.CopyOf(json.SourcePath, "tokenizer.json");
                // The source's own config keeps its bos/eos (Llama 3's <|begin_of_text|>, Qwen's none), which the
                // LLaMA default below would replace with <s> and </s>.
                string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(json.SourcePath))!, "tokenizer_config.json");
                if (File.Exists(config))
                {
                    yield return ExtraFile.CopyOf(config, "tokenizer_config.json");
                    yield break;
                }
                break;
        }
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
