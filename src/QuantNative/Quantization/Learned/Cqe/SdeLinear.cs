using QuantNative.Cpu;
using QuantNative.Training;

namespace QuantNative.Quantization.Learned.Cqe;

/// <summary>
/// One linear layer under SDE (DESIGN.md §7.6): the frozen fp32 weight W and its SVD factors, the learnable E
/// (compact over the mask, initial 0, its own AdamW group), and the composed weight W' = W + U·(M⊙E)·Vᵀ that LWC
/// fake-quantizes every step (the caller builds its <see cref="OmniQuant.LwcLinear"/> over <see cref="Composed"/>).
/// These are the host copies: the training steps compose W' and turn dL/dW' into dL/dE on the backend
/// (<see cref="OmniQuant.TrainedLinear"/>, the same <see cref="SdeMath"/> products on the CPU); <see cref="Compose"/>
/// rebuilds W' on the host for the losses around the epochs and for the commit, which quantizes the final W'.
/// </summary>
public sealed class SdeLinear
{
    private readonly float[] _at;

    public SdeLinear(string name, float[] weights, int rows, int cols, SvdFactors factors, SdeMaskLayout mask)
    {
        if (factors.Rows != rows || factors.Cols != cols || factors.Rank < mask.Active)
            throw new QuantNativeException($"{name}: SVD factors of a [{factors.Rows}, {factors.Cols}] matrix with " +
                                           $"{factors.Rank} directions do not fit a [{rows}, {cols}] layer whose mask needs {mask.Active}");
        Name = name;
        Weights = weights;
        Rows = rows;
        Cols = cols;
        Factors = factors;
        Mask = mask;
        Composed = (float[])weights.Clone();
        E = new Parameter<float>($"{name}.sde", new float[mask.Count]);
        _at = new float[(long)mask.Active * rows];
    }

    public string Name { get; }
    public float[] Weights { get; }
    public int Rows { get; }
    public int Cols { get; }
    public SvdFactors Factors { get; }
    public SdeMaskLayout Mask { get; }

    /// <summary>W' = W + U·(M⊙E)·Vᵀ, rebuilt by <see cref="Compose"/>.</summary>
    public float[] Composed { get; }

    public Parameter<float> E { get; }

    /// <summary>Bytes of this layer's host arrays beyond W: W', the factors, E and the Aᵀ scratch (its training step's
    /// buffers are counted where they are allocated, <see cref="Backends.BufferMeter"/>).</summary>
    public long Bytes => Backends.BufferMeter.HostBytes([Composed, Factors.Ut, Factors.S, Factors.Vt, E.Value, _at]);

    public void Compose() => SdeMath.Compose(Composed, _at, Weights, Factors.Ut, Factors.Vt, Mask, E.Value, Rows, Cols);
}
