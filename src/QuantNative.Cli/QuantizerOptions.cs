using CommandLine;
using QuantNative.Quantization;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Methods;

namespace QuantNative.Cli;

/// <summary>The quantizer, GPTQ, calibration and OmniQuant options `qn quantize` and `qn ablate` share.</summary>
public abstract class QuantizerOptions : ModelOptions
{
    [Option("sym", HelpText = "Symmetric quantization (default asymmetric): no zero point, as GGUF Q4_0/Q3_K hold; for learned methods one clipping factor per group.")]
    public bool Sym { get; set; }

    [Option("act-order", HelpText = "GPTQ: quantize columns by descending Hessian diagonal (desc_act).")]
    public bool ActOrder { get; set; }

    [Option("static-groups", HelpText = "GPTQ: group parameters from the original weights, before any update.")]
    public bool StaticGroups { get; set; }

    [Option("damp", Default = 0.01, HelpText = "GPTQ dampening: fraction of mean(diag H) added to the diagonal.")]
    public double Damp { get; set; } = 0.01;

    [Option("format", Default = "v1", HelpText = "Checkpoint format: v1 (gptq; zero points of 0 are clamped to 1 and counted), v2 (gptq_v2; zeros stored as they are) or gguf (qn quantize only: a GGUF file for llama.cpp, see --type).")]
    public string Format { get; set; } = "v1";

    // Nullable so that the built-in calibration slice can have its own default (BuiltinModel.CalibrationWindows).
    [Option("nsamples", HelpText = "Calibration windows (default 128; 16 on the built-in calibration slice).")]
    public int? NSamples { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the calibration window offsets.")]
    public int Seed { get; set; }

    [Option("epochs", HelpText = "omniquant: epochs per block (default 20, 40 at 2 bits).")]
    public int? Epochs { get; set; }

    [Option("lwc-lr", Default = LearnedOptions.DefaultLearningRate, HelpText = "omniquant: AdamW learning rate of the clipping parameters.")]
    public double LwcLr { get; set; } = LearnedOptions.DefaultLearningRate;

    [Option("sde", HelpText = "cqe+: SDE mask over the singular directions: diag, band:b, block:k or unions such as band:1+block:8 (default " + QuantizationMethods.CqeMask + ").")]
    public string? Sde { get; set; }

    [Option("sde-lr", Default = CqeOptions.DefaultSdeLearningRate, HelpText = "cqe+/lsi: AdamW learning rate of the SDE parameters.")]
    public double SdeLr { get; set; } = CqeOptions.DefaultSdeLearningRate;

    [Option("cll", HelpText = "cqe+: cross-layer look-ahead depth D in blocks (0 = off; default 1).")]
    public int? Cll { get; set; }

    [Option("cll-weight", Default = CqeOptions.DefaultLookAheadWeight, HelpText = "cqe+: weight λ of the look-ahead loss.")]
    public double CllWeight { get; set; } = CqeOptions.DefaultLookAheadWeight;

    [Option("cll-lookahead", Default = "fp", HelpText = "cqe+: look-ahead blocks in full precision (fp) or RTN-quantized (rtn).")]
    public string CllLookAhead { get; set; } = "fp";

    [Option("init-from", HelpText = "cqe+/lsi: start the clipping parameters from a finished omniquant/lsi/cqe+ output directory of the same model.")]
    public string? InitFrom { get; set; }

    /// <summary>The calibration windows and their length: as given, else the defaults of the built-in slice when it is
    /// the calibration text (<see cref="Builtin.BuiltinModel.CalibrationWindows"/>), else the method defaults.</summary>
    protected (int Windows, int Length) CalibrationShape(int? seqLen, bool builtinText) =>
        (NSamples ?? (builtinText ? Builtin.BuiltinModel.CalibrationWindows : CalibrationSampler.DefaultSamples),
         seqLen ?? (builtinText ? Builtin.BuiltinModel.CalibrationWindowLength : CalibrationSampler.DefaultSequenceLength));
}
