using QuantNative.Formats.HuggingFace;

namespace QuantNative.Formats;

/// <summary>
/// The one way every checkpoint writer creates its output directory: refuse an existing one unless asked to
/// replace it, check the extra files' names, fill a hidden sibling directory, add the extra files, and rename it
/// into place only when complete — or delete it, so an interrupted write leaves nothing that looks like a checkpoint.
/// </summary>
internal static class CheckpointDirectory
{
    /// <param name="what">The kind of checkpoint, for error messages ("Hugging Face", "GPTQ").</param>
    /// <param name="fill">Writes the checkpoint's own files into the temporary directory it is given.</param>
    public static void Write(string outDir, bool overwrite, string what, IEnumerable<ExtraFile>? extraFiles,
        Action<string> fill)
    {
        if (!overwrite && (Directory.Exists(outDir) || File.Exists(outDir)))
            throw new QuantNativeException($"{outDir}: already exists (use --force to replace it)");
        var extras = (extraFiles ?? []).ToList();
        CheckExtraNames(extras, outDir);
        AtomicOutput.RemoveStale(outDir); // a killed run's half-written copy


        string temp = AtomicOutput.TempSibling(outDir);
        try
        {
            Directory.CreateDirectory(temp);
            fill(temp);
            foreach (var extra in extras)
            {
                using var stream = new FileStream(Path.Combine(temp, extra.FileName), FileMode.CreateNew, FileAccess.Write);
                extra.Write(stream);
            }
            TestHooks.Point("output-write");
            AtomicOutput.CommitDirectory(temp, outDir, overwrite);
        }
        catch (Exception e)
        {
            AtomicOutput.TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new QuantNativeException($"{outDir}: writing the {what} checkpoint failed: {e.Message}", e);
            throw;
        }
    }

    /// <summary>Extra files are plain, unique names that cannot overwrite a checkpoint file of either format.</summary>
    private static void CheckExtraNames(List<ExtraFile> extras, string outDir)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var extra in extras)
        {
            string name = extra.FileName;
            bool plain = !string.IsNullOrEmpty(name) && name == Path.GetFileName(name) && name is not ("." or "..");
            bool ours = name is HuggingFaceConfig.FileName or HuggingFaceCheckpoint.IndexFileName or Gptq.GptqQuantizeConfig.FileName
                        || name.EndsWith(".safetensors", StringComparison.Ordinal);
            if (!plain || ours || !names.Add(name))
                throw new QuantNativeException(
                    $"{outDir}: extra file name '{name}' must be a plain, unique file name that is not config.json, " +
                    "quantize_config.json or a weights file");
        }
    }
}
