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
        var extras = (extraFiles ?? []).ToList();
        CheckExtraNames(extras, outDir); // before any work
        using var pending = Begin(outDir, overwrite, what);
        pending.Run(() => fill(pending.Temp));
        pending.Commit(extras);
    }

    /// <summary>Starts an output directory that is filled over time (a quantization run streaming each block into it):
    /// the refusal of an existing directory happens now, before any work; nothing appears under
    /// <paramref name="outDir"/> until <see cref="PendingDirectory.Commit"/>, and disposing it uncommitted deletes
    /// what was written.</summary>
    public static PendingDirectory Begin(string outDir, bool overwrite, string what)
    {
        if (!overwrite && (Directory.Exists(outDir) || File.Exists(outDir)))
            throw new QuantNativeException($"{outDir}: already exists (use --force to replace it)");
        AtomicOutput.RemoveStale(outDir); // a killed run's half-written copy
        var pending = new PendingDirectory(outDir, overwrite, what, AtomicOutput.TempSibling(outDir));
        pending.Run(() => Directory.CreateDirectory(pending.Temp));
        return pending;
    }

    /// <summary>A checkpoint directory being written under a hidden temporary name.</summary>
    public sealed class PendingDirectory(string outDir, bool overwrite, string what, string temp) : IDisposable
    {
        private bool _done;

        /// <summary>The hidden sibling the checkpoint's files are written into.</summary>
        public string Temp { get; } = temp;

        /// <summary>Runs one step of filling the directory: on failure the directory is deleted and an I/O error is
        /// reported naming the output.</summary>
        public void Run(Action step)
        {
            try
            {
                step();
            }
            catch (Exception e)
            {
                Dispose();
                if (e is IOException or UnauthorizedAccessException)
                    throw new QuantNativeException($"{outDir}: writing the {what} checkpoint failed: {e.Message}", e);
                throw;
            }
        }

        /// <summary>Adds the extra files and renames the directory into place.</summary>
        public void Commit(IEnumerable<ExtraFile>? extraFiles)
        {
            ObjectDisposedException.ThrowIf(_done, this);
            var extras = (extraFiles ?? []).ToList();
            Run(() =>
            {
                CheckExtraNames(extras, outDir);
                foreach (var extra in extras)
                {
                    using var stream = new FileStream(Path.Combine(Temp, extra.FileName), FileMode.CreateNew, FileAccess.Write);
                    extra.Write(stream);
                }
                TestHooks.Point("output-write");
                AtomicOutput.CommitDirectory(Temp, outDir, overwrite);
                _done = true;
            });
        }

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            AtomicOutput.TryDelete(Temp);
        }
    }

    /// <summary>Extra files are plain, unique names that cannot overwrite a checkpoint file of either format.</summary>
    internal static void CheckExtraNames(List<ExtraFile> extras, string outDir)
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
