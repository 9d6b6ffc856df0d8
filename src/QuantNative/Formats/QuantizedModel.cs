using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats;

/// <summary>One block after quantization: its norms and extras (biases, q/k norms) as they were, and the seven quantized
/// linear layers by part name.</summary>
public sealed class QuantizedBlock
{
    public required float[] AttnNorm { get; init; }
    public required float[] FfnNorm { get; init; }
    public required IReadOnlyDictionary<string, QuantizedMatrix> Linears { get; init; }
    public BlockExtras<float[]> Extras { get; init; } = BlockExtras<float[]>.Empty;

    /// <summary>A learned method's W' and clipping ranges by part name, kept only when a GGUF K-quant export needs them
    /// (they are not part of any checkpoint); null otherwise.</summary>
    public IReadOnlyDictionary<string, Gguf.LearnedLinear>? Learned { get; init; }

    /// <summary>Each linear's calibration input energy, Σx² per input column (the diagonal of XᵀX), by part name: the
    /// importance a GGUF K-quant export weights its fit with. Kept when the method computes it anyway (GPTQ's Hessian)
    /// or a GGUF K-quant export asks for it (the learned methods); not part of any checkpoint; null otherwise.</summary>
    public IReadOnlyDictionary<string, float[]>? Importance { get; init; }

    /// <summary>fp32 weights as a runtime computes them from the stored tensors.</summary>
    public LlamaBlockWeights Dequantize() => new()
    {
        AttnNorm = (float[])AttnNorm.Clone(), FfnNorm = (float[])FfnNorm.Clone(),
        Wq = Linears["self_attn.q_proj"].Dequantize(), Wk = Linears["self_attn.k_proj"].Dequantize(),
        Wv = Linears["self_attn.v_proj"].Dequantize(), Wo = Linears["self_attn.o_proj"].Dequantize(),
        WGate = Linears["mlp.gate_proj"].Dequantize(), WUp = Linears["mlp.up_proj"].Dequantize(),
        WDown = Linears["mlp.down_proj"].Dequantize(),
        Extras = Extras.Map(a => (float[])a.Clone()),
    };
}

/// <summary>
/// A quantized model in memory, exactly what a writer stores: every block linear as a <see cref="QuantizedMatrix"/>
/// (already made storable in <see cref="Format"/>), the other tensors as fp32 with the dtype they had in the source,
/// so they are written back unchanged. How it was made (per-layer errors, losses, time) is the quantizer's result,
/// not part of the model.
/// </summary>
public sealed record QuantizedModel
{
    public required LlamaConfig Config { get; init; }
    public required QuantizerConfig Quantizer { get; init; }

    /// <summary>The method's name as the command line spells it (qn_method in quantize_config.json).</summary>
    public required string Method { get; init; }
    public required GptqCheckpointFormat Format { get; init; }

    /// <summary>GPTQ's act-order (desc_act), static groups and dampening, exported in quantize_config.json; off/null
    /// for the other methods.</summary>
    public bool ActOrder { get; init; }
    public bool StaticGroups { get; init; }
    public double? DampPercent { get; init; }

    public required float[] TokenEmbedding { get; init; }

    /// <summary>The blocks, in order; empty when <see cref="BlocksStreamed"/>.</summary>
    public required QuantizedBlock[] Blocks { get; init; }

    /// <summary>Whether each block went to its output as it was finished (a streaming `qn quantize`), so this model
    /// holds none of them: it can finish that output, not be evaluated or exported again.</summary>
    public bool BlocksStreamed { get; init; }
    public required float[] FinalNorm { get; init; }

    /// <summary>The untied lm_head; null when the config ties it to the embedding.</summary>
    public required float[]? Output { get; init; }

    /// <summary>Safetensors dtype of each non-quantized tensor in the source, by Hugging Face name (F32 when unknown).</summary>
    public required IReadOnlyDictionary<string, string> SourceDTypes { get; init; }

    /// <summary>The model a runtime computes from the stored tensors (every matrix dequantized to fp32).</summary>
    public LlamaModel ToLlamaModel() => new()
    {
        Config = Config, TokenEmbedding = TokenEmbedding, Blocks = HeldBlocks().Select(b => b.Dequantize()).ToArray(),
        FinalNorm = FinalNorm, Output = Output ?? TokenEmbedding,
    };

    /// <summary>The blocks, refusing a model whose blocks were streamed to their output.</summary>
    public QuantizedBlock[] HeldBlocks() => BlocksStreamed
        ? throw new InvalidOperationException("this model's blocks were streamed to its output as they were made; open the output instead")
        : Blocks;

    public string DTypeOf(string name) => SourceDTypes.TryGetValue(name, out var d) ? d : "F32";
}
