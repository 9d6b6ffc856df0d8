using System.Text;
using System.Text.Json;
using CommandLine;
using QuantNative.Evaluation;
using QuantNative.Tokenization;

namespace QuantNative.Cli;

[Verb("tokenize", HelpText = "Print the token ids of a text as the perplexity protocol makes them (BOS first only " +
    "when the tokenizer's template adds it), one per line.")]
public sealed class TokenizeCommand : ICommand
{
    [Option("tokenizer", HelpText = "Tokenizer file (llama2.c .bin, tokenizer.model or tokenizer.json).")]
    public string? Tokenizer { get; set; }

    [Option("model", HelpText = "A Hugging Face model directory whose tokenizer.model or tokenizer.json to use.")]
    public string? Model { get; set; }

    [Option("text", Required = true, HelpText = "UTF-8 text file.")]
    public string Text { get; set; } = "";

    [Option("json", HelpText = "Print one JSON object {\"ids\": [...], \"pieces\": [...]} instead.")]
    public bool Json { get; set; }

    public int Execute(TextWriter stdout, TextWriter stderr)
    {
        if (Tokenizer == null && Model == null)
            throw new QuantNativeException("give the tokenizer with --tokenizer FILE or --model DIR");
        var tokenizer = Tokenizer != null ? TokenizerLoader.LoadFile(Tokenizer) : TokenizerLoader.Load(Model!, null);
        string text = TextFile.ReadUtf8(Text, "--text");
        int[] ids = tokenizer.EncodeAsTemplate(text);
        if (Json)
        {
            IReadOnlyList<string>? pieces = tokenizer switch
            {
                HfTokenizerJson t => t.Pieces,
                SentencePieceTokenizer t => t.Pieces,
                Llama2cTokenizer t => t.Pieces,
                _ => null,
            };
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                w.WriteStartObject();
                w.WriteStartArray("ids");
                foreach (int id in ids) w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteStartArray("pieces");
                foreach (int id in ids) w.WriteStringValue(pieces != null ? pieces[id] : tokenizer.Decode([id]));
                w.WriteEndArray();
                w.WriteEndObject();
            }
            stdout.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
            return 0;
        }
        var sb = new StringBuilder(ids.Length * 7);
        foreach (int id in ids) sb.Append(id).Append('\n');
        stdout.Write(sb.ToString());
        return 0;
    }
}
