using System.Text.Json;
using System.Text.Unicode;

namespace QuantNative.Formats;

/// <summary>
/// The one way every JSON input is read (safetensors headers, config.json, the safetensors index, tokenizer.json,
/// tokenizer_config.json, quantize_config.json). JsonDocument checks the syntax when it parses, but not the text of
/// strings: invalid UTF-8, or an escaped lone surrogate ("\ud800"), only throws InvalidOperationException later, from
/// whichever GetString or property name first touches it, far from any file name. So the bytes are checked here,
/// once, before the document is handed out, and every decoding failure becomes one line naming the file.
/// </summary>
public static class JsonInput
{
    /// <summary>Parses <paramref name="utf8"/>; <paramref name="where"/> names the input in errors ("x.json",
    /// "model.safetensors: the safetensors header"). The caller disposes the document.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, string where, int maxDepth = 64)
    {
        CheckText(utf8.Span, where, maxDepth);
        try
        {
            return JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException e)
        {
            throw new QuantNativeException($"{where}: not valid JSON ({OneLine(e.Message)})", e);
        }
    }

    /// <summary>Reads and parses the file <paramref name="path"/>; a missing or unreadable file is one line too.</summary>
    public static JsonDocument ParseFile(string path, int maxDepth = 64) =>
        Parse(InputFile.ReadAll(path, "JSON file"), path, maxDepth);

    /// <summary>Valid UTF-8 throughout, and every escaped string decodes to valid UTF-16 (unescaped strings are
    /// valid once the bytes are). The reader pass also finds syntax errors, reported as JsonDocument would.</summary>
    private static void CheckText(ReadOnlySpan<byte> utf8, string where, int maxDepth)
    {
        if (!Utf8.IsValid(utf8))
        {
            int at = FirstInvalidUtf8(utf8);
            throw new QuantNativeException($"{where}: not valid UTF-8 (byte 0x{utf8[at]:X2} at offset {at})");
        }
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                    reader.GetString(); // throws on an escaped lone surrogate
            }
        }
        catch (JsonException e)
        {
            throw new QuantNativeException($"{where}: not valid JSON ({OneLine(e.Message)})", e);
        }
        catch (InvalidOperationException e)
        {
            throw new QuantNativeException(
                $"{where}: a string near byte {reader.TokenStartIndex} is not valid Unicode ({OneLine(e.Message)})", e);
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        int at = 0;
        while (at < utf8.Length && System.Text.Rune.DecodeFromUtf8(utf8[at..], out _, out int used) == System.Buffers.OperationStatus.Done)
            at += used;
        return Math.Min(at, utf8.Length - 1);
    }

    internal static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
