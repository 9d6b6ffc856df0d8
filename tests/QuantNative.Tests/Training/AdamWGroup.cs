using System.Numerics;

namespace QuantNative.Tests.Training;

/// <summary>
/// A parameter group of <see cref="AdamW{T}"/> with its own hyperparameters. The defaults are
/// torch.optim.AdamW's (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-2); OmniQuant sets weight decay 0.
/// </summary>
public sealed class AdamWGroup<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private double _learningRate = 1e-3;

    public required IReadOnlyList<GradParameter<T>> Parameters { get; init; }

    /// <summary>Settable between steps (a schedule), like param_group['lr'].</summary>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0) || !double.IsFinite(value))
                throw new ArgumentOutOfRangeException(nameof(LearningRate), $"learning rate must be ≥ 0 and finite (got {value})");
            _learningRate = value;
        }
    }

    public double WeightDecay { get; init; } = 1e-2;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;

    internal void Validate()
    {
        // The checks torch.optim.AdamW makes at construction.
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"epsilon must be ≥ 0 (got {Epsilon})");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), $"beta1 must be in [0, 1) (got {Beta1})");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), $"beta2 must be in [0, 1) (got {Beta2})");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), $"weight decay must be ≥ 0 (got {WeightDecay})");
    }
}
