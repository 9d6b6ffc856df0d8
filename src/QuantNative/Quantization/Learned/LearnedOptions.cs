using QuantNative.Quantization.Learned.Cqe;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// The settings of OmniQuant's block-wise loop (DESIGN.md §7.4) that are not the quantizer's: epochs, the LWC learning
/// rate, the seed of the per-epoch window shuffle, and where resume state lives.
/// </summary>
public sealed class LearnedOptions
{
    /// <summary>The host method's name: learnable weight clipping alone.</summary>
    public const string OmniQuant = "omniquant";

    public const double DefaultLearningRate = 1e-2;
    public const float InitialClipParameter = 4f;

    /// <summary>Start each group's clipping from <see cref="Lwc.ClippingSearch"/> (importance-weighted, from the block's
    /// calibration inputs) instead of σ(4) (<c>--lwc-init-search</c>).</summary>
    public bool SearchInit { get; init; }

    /// <summary>Epochs per block; null: 20, or 40 at 2 bits (the paper's settings).</summary>
    public int? Epochs { get; init; }

    /// <summary>AdamW learning rate of the LWC parameters u, l.</summary>
    public double LearningRate { get; init; } = DefaultLearningRate;

    /// <summary>Seed of the window order; block i shuffles epoch e with System.Random(seed, i, e) (see
    /// <see cref="BackendBlockTraining.ShuffleSeed"/>), so the order does not depend on where a run resumed.</summary>
    public int Seed { get; init; }

    /// <summary>Directory for the state saved after each block (null: no resume state).</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>Where the training runs (<see cref="BackendBlockTraining"/>) and the calibration activations live
    /// (<see cref="TrainingActivations"/>: targets and the X_q propagation are computed there); null: the CPU backend over
    /// the host arrays. The commit (the stored integers) is made on the host either way.</summary>
    public QuantNative.Backends.IBackend? Backend { get; init; }

    /// <summary>Test hook: throw <see cref="LearnedRunStoppedException"/> right after the state of this block is saved.</summary>
    public int? StopAfterBlock { get; init; }

    /// <summary>Keep each committed linear's W' and learned clipping ranges in the result (for a GGUF K-quant export,
    /// which fits W' rather than the committed grid), and each linear's input energy Σx² per column (which weights that
    /// fit; one more forward per block): one fp32 copy of every linear, so only when asked.</summary>
    public bool KeepLearnedWeights { get; init; }

    /// <summary>What CQE+ adds (SDE, cross-layer learning, initial clipping); null: plain OmniQuant.</summary>
    public CqeOptions? Cqe { get; init; }

    /// <summary>The method's name in reports and checkpoints: omniquant, lsi (SDE with the diagonal mask alone), or cqe+.</summary>
    public string MethodName => Cqe switch
    {
        null => LearnedOptions.OmniQuant,
        { Sde: { IsDiagonal: true }, LookAheadDepth: 0, InitFrom: null } => "lsi",
        _ => "cqe+",
    };

    public int EpochsFor(int bits) => Epochs ?? (bits <= 2 ? 40 : 20);

    /// <summary>The aug loss (MSE against B^fp(X_q)) is added at 2 bits, as OmniQuant does.</summary>
    public static bool UsesAugLoss(int bits) => bits <= 2;

    /// <summary>Checks the settings; errors name the command-line option.</summary>
    public void Validate()
    {
        if (Epochs is < 0)
            throw new QuantNativeException($"--epochs {Epochs}: expected 0 or more epochs per block (default 20, 40 at 2 bits)");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
            throw new QuantNativeException($"--lwc-lr {LearningRate}: expected a finite learning rate > 0 (default 0.01)");
        Cqe?.Validate();
    }
}

/// <summary>Thrown by the <see cref="LearnedOptions.StopAfterBlock"/> hook, to simulate a killed run.</summary>
public sealed class LearnedRunStoppedException(int block)
    : QuantNativeException($"stopped after block {block} (--stop-after-block test hook); run the same command again to resume")
{
    public int Block { get; } = block;
}
