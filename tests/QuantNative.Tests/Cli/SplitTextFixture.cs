using NUnit.Framework;
using QuantNative.Evaluation;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;

namespace QuantNative.Tests.Cli;

/// <summary>
/// The quantization tests' split of the TinyStories text: calibration on the first half, evaluation on the second
/// (never overlapping), written once per fixture into a temporary directory that also holds the outputs.
/// </summary>
public abstract class SplitTextFixture
{
    protected string Dir { get; private set; } = "";
    protected string Calib { get; private set; } = "";
    protected string Eval { get; private set; } = "";

    [OneTimeSetUp]
    public void WriteSplitText()
    {
        Dir = TestPaths.NewTempDir();
        string text = TextFile.ReadUtf8(TestPaths.TinyStories);
        Calib = Path.Combine(Dir, "calib.txt");
        Eval = Path.Combine(Dir, "eval.txt");
        File.WriteAllText(Calib, TextRange.Slice(text, "0:0.5", "calib"));
        File.WriteAllText(Eval, TextRange.Slice(text, "0.5:1", "eval"));
    }

    [OneTimeTearDown] public void RemoveDir() => Directory.Delete(Dir, true);

    /// <summary>A fresh output path inside the fixture's directory.</summary>
    protected string NewOut() => Path.Combine(Dir, "out-" + Guid.NewGuid().ToString("N")[..8]);

    private string? _wide;

    /// <summary>stories260K zero-padded to rows of 256 (<see cref="PaddedModel"/>: every block linear fits the
    /// K-quants), as a Hugging Face directory, written once per fixture.</summary>
    protected string WideModel()
    {
        if (_wide != null) return _wide;
        using var stories = ModelLoader.Open(TestPaths.Stories260K);
        _wide = NewOut();
        HuggingFaceWriter.Write(PaddedModel.Widen(stories, 256), _wide);
        return _wide;
    }
}
