using QuantNative.Evaluation;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Sequential;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Quantization;

/// <summary>
/// stories260K with the TinyStories text split in two by <see cref="TextRange"/>: calibration windows from the first
/// half, evaluation windows from the second, so the two never overlap. Small sizes keep the end-to-end tests fast:
/// 8 calibration windows of 128 tokens, evaluation on 8 windows of 128 tokens.
/// </summary>
internal static class StoriesSplit
{
    public const int Samples = 8, SequenceLength = 128, EvalCtx = 128, EvalWindows = 8, Seed = 0;

    private static readonly Lazy<(int[] Calib, int[] Eval)> Tokens = new(() =>
    {
        var tokenizer = Llama2cTokenizer.Load(TestPaths.Tok512);
        string text = TextFile.ReadUtf8(TestPaths.TinyStories);
        return (tokenizer.Encode(TextRange.Slice(text, "0:0.5", "calib"), addBos: true),
                tokenizer.Encode(TextRange.Slice(text, "0.5:1", "eval"), addBos: true));
    });

    public static int[] CalibrationTokens => Tokens.Value.Calib;
    public static int[] EvalTokens => Tokens.Value.Eval;

    public static int[][] Windows(int seed = Seed) =>
        CalibrationSampler.Sample(CalibrationTokens, Samples, SequenceLength, seed, 512);

    public static IModelSource Open() => ModelLoader.Open(TestPaths.Stories260K);

    public static QuantizationResult Quantize(string method, int bits, int group, GptqCheckpointFormat format,
        bool actOrder = false, CaptureObserver? observer = null)
    {
        using var source = Open();
        ILayerQuantizer layer = method == "rtn" ? new RtnLayerQuantizer() : new GptqLayerQuantizer(new GptqOptions { ActOrder = actOrder });
        return SequentialQuantizer.Run(source, layer.NeedsCalibration ? Windows() : null, layer,
            new QuantizerConfig(bits, group), format, observer: observer);
    }

    public static PerplexityResult Evaluate(LlamaModel model) =>
        Perplexity.Evaluate(model, EvalTokens, EvalCtx, EvalWindows);
}
