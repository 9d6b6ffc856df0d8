using CommandLine;
using QuantNative.Cli.Builtin;
using QuantNative.Formats;
using QuantNative.Model;
using QuantNative.Tokenization;

namespace QuantNative.Cli;

/// <summary>The options every verb that reads a model shares.</summary>
public abstract class ModelOptions
{
    // Nullable so that a left-out --model (the built-in model) can be told from an empty one (an error).
    [Option("model", HelpText = "A llama2.c .bin checkpoint, a Hugging Face directory (config.json + safetensors), a qn " +
                                "output or a .gguf file qn wrote; default: " + BuiltinModel.Name + ", the model built into qn.")]
    public string? ModelOption { get; set; }

    /// <summary>The model's path: --model as given, or the built-in model's file (set by <see cref="ResolveModel"/>).</summary>
    public string Model { get; private set; } = "";

    [Option("tokenizer", HelpText = "Tokenizer file (llama2.c .bin, tokenizer.model or tokenizer.json); default: the one in the model directory.")]
    public string? Tokenizer { get; set; }

    /// <summary>How outputs name the model: the --model value as given, or <see cref="BuiltinModel.Name"/>.</summary>
    public string ModelLabel { get; private set; } = "";

    /// <summary>
    /// Turns a left-out or builtin:stories260K --model into the built-in model's files, saying so on the first line
    /// (stderr, so stdout stays what a --json consumer reads). <see cref="CommandLine"/> calls it before the verb runs.
    /// </summary>
    public void ResolveModel(TextWriter stderr)
    {
        Model = ModelLabel = BuiltinModel.CheckModelOption(ModelOption);
        if (!BuiltinModel.Names(ModelOption)) return;
        if (Tokenizer != null)
            throw new QuantNativeException($"--tokenizer {Tokenizer}: {BuiltinModel.Name} has its own tokenizer; leave --tokenizer out");
        stderr.WriteLine(BuiltinModel.Announcement(named: ModelOption != null));
        Model = BuiltinModel.ModelPath;
        Tokenizer = BuiltinModel.TokenizerPath;
        ModelLabel = BuiltinModel.Name;
    }

    protected IModelSource OpenModel() => ModelLoader.Open(Model);

    protected ITextTokenizer LoadTokenizer(int vocabSize) => TokenizerLoader.Load(Model, Tokenizer, vocabSize);

    /// <summary>
    /// The path and the name outputs give a text option: <paramref name="given"/> as it is (the names
    /// builtin:tinystories-calibration and builtin:tinystories-heldout are the built-in slices); when it is left out, the
    /// built-in TinyStories slice (<paramref name="heldOut"/>: the evaluation slice, else the calibration slice) for a
    /// model with the built-in tokenizer, said on stderr; for any other model an error asking for the text.
    /// </summary>
    protected static (string Path, string Label) TextOrBuiltin(string? given, string option, bool heldOut,
        ITextTokenizer tokenizer, TextWriter stderr)
    {
        if (string.Equals(given, BuiltinModel.HeldOutLabel, StringComparison.OrdinalIgnoreCase))
            return (BuiltinModel.HeldOutPath, BuiltinModel.HeldOutLabel);
        if (string.Equals(given, BuiltinModel.CalibrationLabel, StringComparison.OrdinalIgnoreCase))
            return (BuiltinModel.CalibrationPath, BuiltinModel.CalibrationLabel);
        if (given != null) return (given, given);
        if (!BuiltinModel.SharesTokenizer(tokenizer))
            throw new QuantNativeException($"{option}: give a UTF-8 text file (the built-in TinyStories slices are the " +
                                           $"default only for {BuiltinModel.Name} and the models made from it)");
        var (path, label) = heldOut
            ? (BuiltinModel.HeldOutPath, BuiltinModel.HeldOutLabel)
            : (BuiltinModel.CalibrationPath, BuiltinModel.CalibrationLabel);
        stderr.WriteLine($"{option[2..]}: {label} ({new FileInfo(path).Length:N0} bytes of TinyStories built into qn, " +
                         $"{(heldOut ? "disjoint from the calibration slice" : "disjoint from the held-out slice")}; no {option} given)");
        return (path, label);
    }
}
