using QuantNative.Cpu.Weights;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Formats.HuggingFace;
using QuantNative.Inference.LowBit;
using QuantNative.Model;

namespace QuantNative.Inference;

/// <summary>
/// A model as inference runs it, with every weight in the form it is stored (DESIGN.md: inference runs on packed
/// weights): a Hugging Face checkpoint's tensors stay memory-mapped in BF16/F16/F32 (<see cref="MappedLinear"/>, the
/// embedding read a row per token), a GPTQ checkpoint's linears are repacked once into the low-bit kernel layout and
/// multiplied there (<see cref="LowBitCpuLinear"/>), and only the small vectors (norms, biases) are fp32 arrays.
/// Nothing holds an fp32 copy of the whole model; a llama2.c file (fp32 and in the interleaved RoPE layout, so it
/// must be converted) and models built in memory are fp32 arrays. Keeps its source open until disposed.
/// </summary>
public sealed class InferenceModel : IDisposable
{
    private readonly IDisposable? _owned;

    public required LlamaConfig Config { get; init; }
    public required TokenEmbedding Embedding { get; init; }
    public required IInferenceBlock[] Blocks { get; init; }
    public required float[] FinalNorm { get; init; }
    public required ILinearWeights Output { get; init; }

    /// <summary>What the model holds: "mapped BF16", "low-bit W4 g128 + mapped F16", "fp32 arrays".</summary>
    public required string Form { get; init; }

    private InferenceModel(IDisposable? owned) => _owned = owned;

    /// <summary>Bytes one decode step reads: every block linear and the output head (the embedding row is noise).</summary>
    public long WeightBytesPerToken => Blocks.Sum(b => BlockLinears.All.Sum(l => b.Linear(l.Part).StoredBytes)) + Output.StoredBytes;

    /// <summary>What every low-bit linear's decode GEMV multiplies its codes with (<see cref="LowBit.DecodeActivations"/>;
    /// float32 unless told otherwise). Returns the model.</summary>
    public InferenceModel WithDecodeActivations(DecodeActivations activations)
    {
        foreach (var block in Blocks)
        foreach (var linear in BlockLinears.All)
            if (block.Linear(linear.Part) is LowBitCpuLinear lowBit) lowBit.DecodeActivations = activations;
        return this;
    }

    /// <summary>The model of <paramref name="source"/>, which it then owns: mapped for Hugging Face checkpoints, low-bit
    /// for GPTQ ones, fp32 arrays otherwise.</summary>
    public static InferenceModel Open(IModelSource source) => source switch
    {
        HuggingFaceCheckpoint hf => Mapped(hf, hf.Map, (layer, linear, c) =>
        {
            var (rows, columns) = linear.Shape(c);
            return new MappedLinear(hf.Map(BlockLinears.Name(layer, linear) + ".weight"), rows, columns);
        }, "mapped " + DTypes(hf)),
        GptqCheckpoint gptq => Mapped(gptq, gptq.Map, (layer, linear, _) => LowBitCpuLinear.Create(
                gptq.LoadPacked(layer, linear.Part), BlockLinears.Name(layer, linear)),
            $"low-bit {gptq.Quantization.Quantizer} + mapped {DTypes(gptq)}"),
        _ => From(LlamaModel.Load(source), source),
    };

    /// <summary>A model of given parts (synthetic benchmark models).</summary>
    public static InferenceModel Of(LlamaConfig config, TokenEmbedding embedding, IInferenceBlock[] blocks, float[] finalNorm,
        ILinearWeights output, string form) => new(null)
    {
        Config = config, Embedding = embedding, Blocks = blocks, FinalNorm = finalNorm, Output = output, Form = form,
    };

    /// <summary>fp32 arrays (tests, llama2.c, models built in memory).</summary>
    public static InferenceModel From(LlamaModel model, IDisposable? owned = null) => new(owned)
    {
        Config = model.Config,
        Embedding = new TokenEmbedding(model.TokenEmbedding, model.Config.HiddenSize),
        Blocks = model.Blocks.Select(b => (IInferenceBlock)new ArrayBlock(b, model.Config)).ToArray(),
        FinalNorm = model.FinalNorm,
        Output = new ArrayLinear("lm_head", model.Output, model.Config.VocabSize, model.Config.HiddenSize),
        Form = "fp32 arrays",
    };

    /// <summary>A quantized model in memory (`qn quantize`'s and `qn ablate`'s result) with its linears in the low-bit
    /// layout, as its written checkpoint would load.</summary>
    public static InferenceModel From(QuantizedModel model)
    {
        var c = model.Config;
        var blocks = model.HeldBlocks().Select((b, layer) => (IInferenceBlock)new InferenceBlock(b.AttnNorm, b.FfnNorm, b.Extras,
            BlockLinears.All.ToDictionary(l => l.Part, l => LowBitCpuLinear.Create(
                GptqPacker.Pack(b.Linears[l.Part], model.Format, BlockLinears.Name(layer, l)), BlockLinears.Name(layer, l))))).ToArray();
        return new InferenceModel(null)
        {
            Config = c, Embedding = new TokenEmbedding(model.TokenEmbedding, c.HiddenSize), Blocks = blocks,
            FinalNorm = model.FinalNorm,
            Output = new ArrayLinear("lm_head", model.Output ?? model.TokenEmbedding, c.VocabSize, c.HiddenSize),
            Form = $"low-bit {model.Quantizer} (in memory)",
        };
    }

    private static InferenceModel Mapped(IModelSource source, Func<string, MappedTensor> map,
        Func<int, BlockLinear, LlamaConfig, ILinearWeights> linear, string form)
    {
        var c = source.Config;
        var blocks = new IInferenceBlock[c.NumLayers];
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            int i = layer;
            blocks[i] = new InferenceBlock(
                map(HuggingFaceNames.Block(i, "input_layernorm")).ReadAll(),
                map(HuggingFaceNames.Block(i, "post_attention_layernorm")).ReadAll(),
                BlockExtraParts.Load(c, part => map(HuggingFaceNames.Extra(i, part.Part)).ReadAll()),
                BlockLinears.All.ToDictionary(l => l.Part, l => linear(i, l, c)));
        }
        var embedding = map(HuggingFaceNames.Embedding);
        var output = c.TieWordEmbeddings ? embedding : map(HuggingFaceNames.Output);
        // The repack's temporaries (each GPTQ layer read whole, then packed anew) are garbage now: collect them once,
        // compacting, so the process holds the model and not the way it was built.
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return new InferenceModel(source)
        {
            Config = c, Embedding = new TokenEmbedding(embedding), Blocks = blocks,
            FinalNorm = map(HuggingFaceNames.FinalNorm).ReadAll(),
            Output = new MappedLinear(output, c.VocabSize, c.HiddenSize), Form = form,
        };
    }

    private static string DTypes(IModelSource source) =>
        string.Join("/", source.Tensors.Select(t => t.DType).Where(d => d is "F32" or "F16" or "BF16").Distinct().Order());

    public void Dispose() => _owned?.Dispose();
}
