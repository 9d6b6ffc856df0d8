namespace QuantNative.Formats;

/// <summary>Reads a whole input file (a tokenizer, a JSON file); a missing or unreadable one is one line naming it.</summary>
public static class InputFile
{
    /// <param name="what">The kind of file, for the message ("SentencePiece model file").</param>
    public static byte[] ReadAll(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new QuantNativeException($"{path}: {what} not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{path}: cannot read the {what}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }
}
