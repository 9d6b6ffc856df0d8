using System.Text;

namespace QuantNative.Evaluation;

/// <summary>Reads evaluation and calibration text: UTF-8 only, non-empty, with errors that name the file.</summary>
public static class TextFile
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string ReadUtf8(string path, string option = "--text")
    {
        if (!File.Exists(path))
            throw new QuantNativeException($"{option} {path}: file not found");
        byte[] bytes = File.ReadAllBytes(path);
        int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException e)
        {
            throw new QuantNativeException($"{option} {path}: not valid UTF-8 text (bad byte at offset {start + e.Index})");
        }
        if (text.Length == 0)
            throw new QuantNativeException($"{option} {path}: the file is empty");
        return text;
    }
}
