namespace QuantNative.Formats.Gptq;

/// <summary>
/// The two versions of the GPTQ checkpoint convention (`checkpoint_format` in quantize_config.json). They differ only in
/// qzeros: v1 ("gptq", what AutoGPTQ wrote and most runtimes load) stores zero − 1 and readers add 1 back; v2
/// ("gptq_v2", GPTQModel) stores the zero as it is.
/// </summary>
public enum GptqCheckpointFormat
{
    V1 = 1,
    V2 = 2,
}
