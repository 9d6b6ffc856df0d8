namespace QuantNative.Model;

/// <summary>The RoPE frequency schemes qn implements (Transformers' rope_type); any other is refused by name.</summary>
public enum RopeType { Default, Linear, Llama3 }

/// <summary>
/// How the rotary frequencies are derived from rope_theta, as Transformers' ROPE_INIT_FUNCTIONS do
/// (modeling_rope_utils.py): default inv_freq_i = θ^(−2i/d); linear divides every frequency by the factor; llama3
/// (<c>_compute_llama3_parameters</c>) divides the low frequencies (wavelength above original/low_freq_factor) by the
/// factor, keeps the high ones (wavelength below original/high_freq_factor) and interpolates smoothly between. None
/// of the three rescales the attention (attention_factor 1).
/// </summary>
public sealed record RopeScaling(RopeType Type, double Factor = 1, double LowFreqFactor = 1, double HighFreqFactor = 4,
    int OriginalMaxPositions = 8192)
{
    public static readonly RopeScaling None = new(RopeType.Default);

    /// <summary>The rope_type as config.json spells it.</summary>
    public string Name => Type switch { RopeType.Linear => "linear", RopeType.Llama3 => "llama3", _ => "default" };

    /// <summary>inv_freq [headDim/2] in double (Transformers computes it in float32; the references in float64).</summary>
    public double[] InverseFrequencies(int headDim, double theta)
    {
        var inv = new double[headDim / 2];
        for (int i = 0; i < inv.Length; i++)
            inv[i] = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
        if (Type == RopeType.Linear)
            for (int i = 0; i < inv.Length; i++) inv[i] /= Factor;
        if (Type == RopeType.Llama3)
            for (int i = 0; i < inv.Length; i++) inv[i] = Llama3(inv[i]);
        return inv;
    }

    private double Llama3(double freq)
    {
        double lowWavelength = OriginalMaxPositions / LowFreqFactor, highWavelength = OriginalMaxPositions / HighFreqFactor;
        double wavelength = 2 * Math.PI / freq;
        if (wavelength < highWavelength) return freq;            // high frequency: kept
        if (wavelength > lowWavelength) return freq / Factor;    // low frequency: scaled
        double smooth = (OriginalMaxPositions / wavelength - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
        return (1 - smooth) * freq / Factor + smooth * freq;
    }
}

/// <summary>The rotary embedding of a model: the base and the scaling of its frequencies.</summary>
public sealed record RopeParameters(double Theta, RopeScaling Scaling)
{
    public double[] InverseFrequencies(int headDim) => Scaling.InverseFrequencies(headDim, Theta);

    public override string ToString() =>
        Scaling.Type == RopeType.Default ? $"theta {Theta:G}" : $"theta {Theta:G}, {Scaling.Name} factor {Scaling.Factor:G}";
}
