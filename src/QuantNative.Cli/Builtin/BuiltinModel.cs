using System.Security.Cryptography;
using QuantNative.Tokenization;

namespace QuantNative.Cli.Builtin;

/// <summary>
/// The model and texts that ship inside qn (Builtin/README.md): stories260K with its tokenizer, a calibration slice and
/// a disjoint held-out slice of TinyStories. They are what a verb uses when --model (and, for this model, --calib /
/// --text / --eval) is left out, so the first commands work with nothing but the build. Every loader maps files, so
/// the resources are written once to a cache folder keyed by their hash and read from there.
/// </summary>
public static class BuiltinModel
{
    public const string Name = "builtin:stories260K";
    public const string CalibrationLabel = "builtin:tinystories-calibration";
    public const string HeldOutLabel = "builtin:tinystories-heldout";

    /// <summary>Calibration windows for the built-in slice when --nsamples / --seqlen are left out: the method defaults
    /// (128 × 2048, made for billion-parameter models) would draw each of the slice's ~63K tokens about once and take
    /// minutes of training on a 260K-parameter model; 16 × 256 takes seconds.</summary>
    public const int CalibrationWindows = 16;
    public const int CalibrationWindowLength = 256;

    private const string ModelFile = "stories260K.bin";
    private const string TokenizerFile = "tok512.bin";
    private const string CalibrationFile = "tinystories-calibration.txt";
    private const string HeldOutFile = "tinystories-heldout.txt";
    private static readonly string[] Files = [ModelFile, TokenizerFile, CalibrationFile, HeldOutFile];

    private static readonly Lazy<string> ExtractedDirectory = new(Extract);

    /// <summary>Whether a --model value names the built-in model: left out (null) or <see cref="Name"/>.</summary>
    public static bool Names(string? model) =>
        model == null || string.Equals(model, Name, StringComparison.OrdinalIgnoreCase);

    /// <summary>A given --model must name something: an empty value is an error, not the built-in model.</summary>
    public static string CheckModelOption(string? model) => model is { Length: 0 } || model?.Trim().Length == 0
        ? throw new QuantNativeException("--model: expected a model path or " + Name + ", got an empty value")
        : model ?? "";

    public static string ModelPath => Path.Combine(ExtractedDirectory.Value, ModelFile);
    public static string TokenizerPath => Path.Combine(ExtractedDirectory.Value, TokenizerFile);
    public static string CalibrationPath => Path.Combine(ExtractedDirectory.Value, CalibrationFile);
    public static string HeldOutPath => Path.Combine(ExtractedDirectory.Value, HeldOutFile);

    /// <summary>The line a verb prints first when it runs the built-in model.</summary>
    public static string Announcement(bool named) =>
        $"model: {Name} (stories260K, a 260K-parameter LLaMA trained on TinyStories, built into qn; " +
        (named ? "named by --model)" : "no --model given)");

    /// <summary>
    /// Whether <paramref name="tokenizer"/> is the built-in model's (the built-in model itself and what qn made from
    /// it: its conversions, quantizations and GGUF files carry the same vocabulary): the slices are its data, so they
    /// are the default texts for exactly those models. Decided by the ids of a stretch of the held-out slice, which two
    /// different 512-token vocabularies do not share.
    /// </summary>
    public static bool SharesTokenizer(ITextTokenizer tokenizer)
    {
        if (tokenizer.VocabSize != 512) return false;
        string probe = File.ReadAllText(HeldOutPath)[..2000];
        var builtin = TokenizerLoader.LoadFile(TokenizerPath, 512);
        return tokenizer.Encode(probe, addBos: false).AsSpan().SequenceEqual(builtin.Encode(probe, addBos: false));
    }

    /// <summary>The bytes of one embedded file (for tests and for <see cref="Extract"/>).</summary>
    public static byte[] ResourceBytes(string file)
    {
        using var stream = typeof(BuiltinModel).Assembly.GetManifestResourceStream("QuantNative.Cli.Builtin." + file)
            ?? throw new QuantNativeException($"the built-in {file} is missing from this build of qn (rebuild with ./build.sh)");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// Writes the embedded files to the cache folder (unless a complete copy is there) and returns it: under
    /// $XDG_CACHE_HOME, ~/.cache or the temp folder, whichever is writable, in a subfolder named by the files' hash so a
    /// newer qn never reads an older copy. Each file is written under a temporary name and renamed, so a run that is
    /// killed, or runs beside another, never leaves a partial file under the final name.
    /// </summary>
    private static string Extract()
    {
        var contents = Files.ToDictionary(f => f, ResourceBytes);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var f in Files) hash.AppendData(contents[f]);
        string key = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        var failures = new List<string>();
        foreach (var root in CacheRoots())
        {
            string dir = Path.Combine(root, "quantnative", "builtin", key);
            try
            {
                Directory.CreateDirectory(dir);
                foreach (var (file, bytes) in contents)
                {
                    string path = Path.Combine(dir, file);
                    if (File.Exists(path) && new FileInfo(path).Length == bytes.Length) continue;
                    string temp = Path.Combine(dir, $".{file}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}");
                    try
                    {
                        File.WriteAllBytes(temp, bytes);
                        File.Move(temp, path, overwrite: true);
                    }
                    finally
                    {
                        if (File.Exists(temp)) File.Delete(temp);
                    }
                }
                return dir;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failures.Add($"{dir}: {e.Message}");
            }
        }
        throw new QuantNativeException("cannot write the built-in model's files to any cache folder (" +
                                       string.Join("; ", failures) + "); set XDG_CACHE_HOME to a writable folder");
    }

    private static IEnumerable<string> CacheRoots()
    {
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) yield return xdg;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) yield return Path.Combine(home, ".cache");
        yield return Path.GetTempPath();
    }
}
