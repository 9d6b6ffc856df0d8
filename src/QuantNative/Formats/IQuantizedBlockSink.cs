namespace QuantNative.Formats;

/// <summary>Where a quantization run puts each block the moment it is finished, so that the run never holds the
/// quantized model whole (<see cref="Gptq.GptqCheckpointStream"/> writes it into the output checkpoint).</summary>
public interface IQuantizedBlockSink
{
    /// <summary>Takes block <paramref name="layer"/>; called once per layer, in any order.</summary>
    void Write(int layer, QuantizedBlock block);
}
