namespace QuantNative.Formats.HuggingFace;

/// <summary>
/// A file a writer adds to the checkpoint directory before it is moved into place (tokenizer.model,
/// tokenizer.json, ...), so the directory never appears without them. <see cref="Write"/> fills the new file.
/// </summary>
public sealed record ExtraFile(string FileName, Action<Stream> Write)
{
    /// <summary>A copy of <paramref name="sourcePath"/>, under its own name unless <paramref name="fileName"/> is given.</summary>
    public static ExtraFile CopyOf(string sourcePath, string? fileName = null) =>
        new(fileName ?? Path.GetFileName(sourcePath), stream =>
        {
            using var source = File.OpenRead(sourcePath);
            source.CopyTo(stream);
        });
}
