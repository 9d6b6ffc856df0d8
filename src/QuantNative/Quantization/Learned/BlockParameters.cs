using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned.Cqe;
using QuantNative.Quantization.Learned.Lwc;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// What one block learns in the OmniQuant loop and how it turns into the training weights: LWC's u, l per linear
/// (<see cref="LwcLinear"/>, starting at 4.0 or from a finished run's <see cref="ClippingParameters"/>) and, with
/// SDE, E per linear (<see cref="SdeLinear"/>, over the SVD of its fp weight), each group with its own AdamW learning
/// rate. These are the host copies: the epochs train them on a backend (<see cref="BackendBlockTraining"/>, which
/// works on these very arrays on the CPU); <see cref="Rebuild"/> makes the training weights on the host for the
/// losses before the epochs, <see cref="PrepareCommit"/> W' for the commit after them.
/// </summary>
public sealed class BlockParameters
{
    public BlockParameters(int layer, LlamaConfig c, float[][] fpLinears, QuantizerConfig quantizer,
        LearnedOptions options, ClippingParameters? init, LearnedWorkDirectory? state)
    {
        var cqe = options.Cqe;
        Sde = cqe?.Sde is { } mask ? SdeLinears(layer, c, fpLinears, mask, state) : null;
        Lwc = BlockLinears.All.Select((bl, i) =>
        {
            var (rows, columns) = bl.Shape(c);
            string name = BlockLinears.Name(layer, bl);
            var linear = new LwcLinear(name, Sde?[i].Composed ?? fpLinears[i], rows, columns, quantizer);
            if (init != null)
            {
                var (u, l) = init.Get(name, linear.Shape.GroupCount, cqe!.InitFrom!);
                u.CopyTo(linear.U.Value, 0);
                l.CopyTo(linear.L.Value, 0);
            }
            return linear;
        }).ToArray();
        ClipLearningRate = options.LearningRate;
        SdeLearningRate = Sde != null ? cqe!.SdeLearningRate : 0;
    }

    /// <summary>AdamW's learning rate of every u, l.</summary>
    public double ClipLearningRate { get; }

    /// <summary>AdamW's learning rate of every E (0 without SDE).</summary>
    public double SdeLearningRate { get; }

    /// <summary>The seven linears' clipping, in <see cref="BlockLinears.All"/> order.</summary>
    public LwcLinear[] Lwc { get; }

    /// <summary>The seven linears' SDE, in the same order; null without SDE.</summary>
    public SdeLinear[]? Sde { get; }

    /// <summary>Bytes held beyond the block's weight tensors (see <see cref="LwcLinear.Bytes"/>, <see cref="SdeLinear.Bytes"/>).</summary>
    public long Bytes => Lwc.Sum(l => l.Bytes) + (Sde?.Sum(l => l.Bytes) ?? 0);

    /// <summary>Ŵ of every linear from the current parameters (W' composed first with SDE), into <paramref name="qLinears"/>.</summary>
    public void Rebuild(float[][] qLinears)
    {
        for (int i = 0; i < Lwc.Length; i++)
        {
            Sde?[i].Compose();
            Lwc[i].Forward(qLinears[i]);
        }
    }

    /// <summary>Rebuilds W' from the trained E (the optimizer moved E after the last composition), so the commit
    /// quantizes the weights the parameters describe.</summary>
    public void PrepareCommit()
    {
        if (Sde != null) foreach (var l in Sde) l.Compose();
    }

    /// <summary>The SDE layers of one block: the SVD of each fp weight (LAPACKE sgesdd; only the mask's leading
    /// directions kept), from the work directory's cache when a resumed run already computed it.</summary>
    private static SdeLinear[] SdeLinears(int layer, LlamaConfig c, float[][] fpLinears, SdeMask mask,
        LearnedWorkDirectory? state)
    {
        var layouts = BlockLinears.All.Select(bl =>
        {
            var (rows, columns) = bl.Shape(c);
            return mask.For(Math.Min(rows, columns), bl.Part);
        }).ToArray();
        var factors = state?.LoadFactors(layer, c);
        if (factors == null)
        {
            factors = BlockLinears.All.Select((bl, i) =>
            {
                var (rows, columns) = bl.Shape(c);
                return Svd.Thin(fpLinears[i], rows, columns, BlockLinears.Name(layer, bl)).Leading(layouts[i].Active);
            }).ToArray();
            state?.SaveFactors(layer, factors);
        }
        return BlockLinears.All.Select((bl, i) =>
        {
            var (rows, columns) = bl.Shape(c);
            return new SdeLinear(BlockLinears.Name(layer, bl), fpLinears[i], rows, columns, factors[i], layouts[i]);
        }).ToArray();
    }
}
