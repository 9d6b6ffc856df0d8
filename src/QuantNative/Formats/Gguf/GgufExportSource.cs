using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gguf;

/// <summary>
/// What the exporter reads, one block at a time: the model's tensors in qn's layout (fp32, rotate-half), and for each
/// block linear — when the source has them — its quantized codes (exact block-32 exports) and a learned method's W'
/// and clipping ranges (K-quant exports). Made from a checkpoint (<see cref="FromSource"/>: fp or GPTQ, codes from
/// the GPTQ tensors) or from a quantization run's model (<see cref="FromQuantized"/>).
/// </summary>
public sealed class GgufExportSource
{
    public required LlamaConfig Config { get; init; }
    public required string Method { get; init; }
    public required Func<float[]> Embedding { get; init; }
    public required Func<float[]> FinalNorm { get; init; }
    /// <summary>The untied output matrix; null when tied.</summary>
    public required Func<float[]?> Output { get; init; }
    public required Func<int, LlamaBlockWeights> Block { get; init; }
    public required Func<int, string, QuantizedMatrix?> Codes { get; init; }
    public Func<int, string, LearnedLinear?> Learned { get; init; } = (_, _) => null;
    /// <summary>A linear's calibration input energy Σx² per input column (K-quant fits weight each column's error by
    /// it); null when the source has none (a checkpoint, RTN).</summary>
    public Func<int, string, float[]?> Importance { get; init; } = (_, _) => null;
    /// <summary>What a linear's GGUF type is chosen from — its codes, and whether it has a learned W' and input
    /// energies — when its block is not there yet (a streaming export chooses every type from the first block);
    /// null: from the block's own.</summary>
    public Func<int, string, (QuantizedMatrix? Codes, bool Learned, bool Weighted)>? ChoiceOf { get; init; }
    /// <summary>The stored dtype of the embedding and output (F32 for quantized or unknown sources).</summary>
    public required FloatDType MatrixDType { get; init; }

    public static GgufExportSource FromSource(IModelSource source)
    {
        var gptq = source as Gptq.GptqCheckpoint;
        var c = source.Config;
        var dtype = source.Tensors.FirstOrDefault(t => t.Shape.Length == 2 && t.Shape[0] == c.VocabSize) is { } e
                    && FloatDTypeExtensions.TryParseSafetensors(e.DType, out var d) ? d : FloatDType.F32;
        return new GgufExportSource
        {
            Config = c, Method = gptq != null ? gptq.Quantization.Method : "none",
            Embedding = source.LoadTokenEmbedding, FinalNorm = source.LoadFinalNorm,
            Output = () => c.TieWordEmbeddings ? null : source.LoadOutput(),
            Block = Cached(source.LoadBlock),
            Codes = (layer, part) => gptq?.LoadMatrix(layer, part),
            MatrixDType = dtype,
        };
    }

    public static GgufExportSource FromQuantized(QuantizedModel model) => new()
    {
        Config = model.Config, Method = model.Method,
        Embedding = () => model.TokenEmbedding, FinalNorm = () => model.FinalNorm, Output = () => model.Output,
        Block = Cached(layer => model.HeldBlocks()[layer].Dequantize()),
        Codes = (layer, part) => model.HeldBlocks()[layer].Linears[part],
        Learned = (layer, part) => model.HeldBlocks()[layer].Learned?.GetValueOrDefault(part),
        Importance = (layer, part) => model.HeldBlocks()[layer].Importance?.GetValueOrDefault(part),
        MatrixDType = FloatDTypeExtensions.TryParseSafetensors(model.DTypeOf(HuggingFace.HuggingFaceNames.Embedding), out var d) ? d : FloatDType.F32,
    };

    /// <summary>The last block loaded is kept: the writer asks for each of its tensors in turn.</summary>
    private static Func<int, LlamaBlockWeights> Cached(Func<int, LlamaBlockWeights> load)
    {
        int cachedLayer = -1;
        LlamaBlockWeights? cached = null;
        return layer =>
        {
            if (layer != cachedLayer) (cached, cachedLayer) = (load(layer), layer);
            return cached!;
        };
    }
}
