namespace QuantNative.Model;

/// <summary>
/// The weights of one transformer block, fp32, every matrix row-major [out, in] (y = x·Wᵀ).
/// Wq and Wk are in the rotate-half RoPE layout (Hugging Face's).
/// </summary>
public sealed class LlamaBlockWeights
{
    public required float[] AttnNorm { get; init; }   // [hidden]
    public required float[] Wq { get; init; }         // [heads·headDim, hidden]
    public required float[] Wk { get; init; }         // [kvHeads·headDim, hidden]
    public required float[] Wv { get; init; }         // [kvHeads·headDim, hidden]
    public required float[] Wo { get; init; }         // [hidden, heads·headDim]
    public required float[] FfnNorm { get; init; }    // [hidden]
    public required float[] WGate { get; init; }      // w1 [intermediate, hidden]
    public required float[] WUp { get; init; }        // w3 [intermediate, hidden]
    public required float[] WDown { get; init; }      // w2 [hidden, intermediate]

    /// <summary>Biases and q/k norms of the architectures that have them (<see cref="BlockExtras{TTensor}"/>).</summary>
    public BlockExtras<float[]> Extras { get; init; } = BlockExtras<float[]>.Empty;

    /// <summary>Checks every array length against <paramref name="config"/>; the message names the tensor.</summary>
    public void Validate(LlamaConfig config, int layer, string source)
    {
        int d = config.HiddenSize, f = config.IntermediateSize, kv = config.KvDim, q = config.QDim;
        void Check(float[] a, long expected, string name)
        {
            if (a.Length != expected)
                throw new QuantNativeException(
                    $"{source}: layer {layer} tensor '{name}' has {a.Length} elements, expected {expected}");
        }
        Check(AttnNorm, d, "input_layernorm");
        Check(Wq, (long)q * d, "q_proj");
        Check(Wk, (long)kv * d, "k_proj");
        Check(Wv, (long)kv * d, "v_proj");
        Check(Wo, (long)d * q, "o_proj");
        Check(FfnNorm, d, "post_attention_layernorm");
        Check(WGate, (long)f * d, "gate_proj");
        Check(WUp, (long)f * d, "up_proj");
        Check(WDown, (long)d * f, "down_proj");
        foreach (var part in BlockExtraParts.All)
        {
            var tensor = part.Get(Extras);
            if (part.Present(config) != (tensor != null))
                throw new QuantNativeException($"{source}: layer {layer} tensor '{part.Part}' is " +
                    (tensor == null ? "missing" : "present but the architecture has none"));
            if (tensor != null) Check(tensor, part.Length(config), part.Part);
        }
    }
}
