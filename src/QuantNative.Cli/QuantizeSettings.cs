using QuantNative.Formats.Gptq;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Gptq;
using QuantNative.Quantization.Learned;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Methods;

namespace QuantNative.Cli;

/// <summary>The quantization options of `qn quantize` (and `qn ablate`), checked, with errors naming the option; the
/// method is an entry of the library's one method table (<see cref="QuantizationMethods"/>).</summary>
public sealed record QuantizeSettings(QuantizationMethod Method, QuantizerConfig Quantizer, GptqCheckpointFormat Format,
    GptqOptions Gptq)
{
    public string MethodName => Method.Name;

    public static QuantizeSettings Parse(string method, int bits, int group, bool sym, bool actOrder, bool staticGroups,
        double damp, string format, bool gguf = false, bool freeMinimum = false)
    {
        var gptq = new GptqOptions { DampPercent = damp, ActOrder = actOrder, StaticGroups = staticGroups };
        if (!double.IsFinite(damp) || damp < 0)
            throw new QuantNativeException($"--damp {damp}: expected a finite fraction ≥ 0 (default 0.01)");
        var entry = QuantizationMethods.Find(method);
        if (!QuantizerConfig.SupportedBits.Contains(bits))
            throw new QuantNativeException(
                $"--wbits {bits}: expected one of {string.Join(", ", QuantizerConfig.SupportedBits)}");
        if (!gguf && !QuantizerConfig.GptqBits.Contains(bits))
            throw new QuantNativeException($"--wbits {bits}: a GPTQ checkpoint holds {string.Join(", ", QuantizerConfig.GptqBits)} bits; " +
                                           $"{bits}-bit codes are written as GGUF only (--format gguf: Q5_0/Q5_1 exactly, or --type q5_k/q6_k)");
        if (freeMinimum && !entry.IsLearned)
            throw new QuantNativeException($"--free-min: only the learned methods (omniquant, lsi, cqe+) learn a minimum; --method {entry.Name} " +
                                           "takes its range from the weights (for llama.cpp's own min/max grid, `qn export --to gguf --type q4_1|q5_1` of the fp model)");
        if (freeMinimum && !gguf)
            throw new QuantNativeException("--free-min: a GPTQ checkpoint stores integer zero points, not a free minimum; " +
                                           "write GGUF (--format gguf: Q4_1/Q5_1 exactly, or --type q2_k/q4_k/q5_k)");
        if (group <= 0 && group != QuantizerConfig.PerChannelGroupSize)
            throw new QuantNativeException($"--group {group}: expected a positive group size, or -1 for per-channel");
        var checkpointFormat = format.ToLowerInvariant() switch
        {
            "v1" or "gptq" or "1" => GptqCheckpointFormat.V1,
            "v2" or "gptq_v2" or "2" => GptqCheckpointFormat.V2,
            _ => throw new QuantNativeException($"--format {format}: expected v1 (gptq) or v2 (gptq_v2)"),
        };
        return new QuantizeSettings(entry, new QuantizerConfig(bits, group, sym, freeMinimum), checkpointFormat, gptq);
    }

    /// <summary>The quantizer of this run, with the learned methods' options (their CQE+ part from the entry).</summary>
    public IModelQuantizer Create(LearnedOptions learned) =>
        Method.Create(new MethodSettings(Quantizer, Format, Gptq, learned));

    /// <summary>The OmniQuant loop's options from the command line; errors name --epochs and --lwc-lr.</summary>
    public static LearnedOptions Learned(int? epochs, double learningRate, int seed, string? workDirectory = null,
        int? stopAfterBlock = null, CqeOptions? cqe = null, Backends.IBackend? backend = null, bool keepLearnedWeights = false,
        bool searchInit = false)
    {
        if (searchInit && cqe?.InitFrom != null)
            throw new QuantNativeException($"--lwc-init-search and --init-from {cqe.InitFrom}: both set the starting clipping; give one of them");
        var options = new LearnedOptions
        {
            Epochs = epochs, LearningRate = learningRate, Seed = seed, WorkDirectory = workDirectory,
            StopAfterBlock = stopAfterBlock, Cqe = cqe, Backend = backend, KeepLearnedWeights = keepLearnedWeights,
            SearchInit = searchInit,
        };
        options.Validate();
        return options;
    }


    /// <summary>
    /// The CQE+ options of a learned method from the command line: lsi = `--sde diag` without cross-layer learning,
    /// cqe+ = SDE (default mask <see cref="QuantizationMethods.CqeMask"/>) + CLL (default depth 1); omniquant takes none of them.
    /// Every refusal names the option, before any work.
    /// </summary>
    public static CqeOptions? Cqe(QuantizationMethod method, string? sde, double sdeLr, int? cll, double cllWeight,
        string lookAhead, string? initFrom)
    {
        string name = method.Name;
        if (method.CqeParts == null)
        {
            string? given = sde != null ? "--sde" : cll != null ? "--cll" : initFrom != null ? "--init-from" : null;
            if (given != null)
                throw new QuantNativeException($"{given}: only --method cqe+ (or lsi) takes it; --method {name} has no SDE, " +
                                               "cross-layer learning or initial clipping parameters");
            return null;
        }
        var options = new CqeOptions
        {
            Sde = SdeMask.Parse(sde ?? method.DefaultMask ?? QuantizationMethods.CqeMask),
            SdeLearningRate = sdeLr,
            LookAheadDepth = cll ?? method.DefaultDepth,
            LookAheadWeight = cllWeight,
            LookAhead = CqeOptions.ParseLookAhead(lookAhead),
            InitFrom = initFrom,
        };
        if (method.DiagonalSdeOnly && (!options.Sde.IsDiagonal || options.LookAheadDepth != 0))
            throw new QuantNativeException($"--method {name} is SDE with the diagonal mask and no cross-layer learning; " +
                                           $"for --sde {sde} or --cll {cll} use --method cqe+");
        options.Validate();
        return options;
    }
}
