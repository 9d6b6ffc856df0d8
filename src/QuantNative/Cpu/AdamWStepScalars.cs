namespace QuantNative.Cpu;

/// <summary>
/// The per-step scalars of one AdamW update (torch.optim.AdamW), computed in double once per parameter and step as
/// PyTorch does; the per-element arithmetic (<see cref="AdamWUpdate"/>, the CUDA kernel) rounds them to the
/// parameter's type. Decay = 1 − lr·wd, Weight = 1 − β1 (torch.lerp's weight), StepSize = lr/(1 − β1^step),
/// BiasCorrection2Sqrt = sqrt(1 − β2^step).
/// </summary>
public readonly record struct AdamWStepScalars(double Decay, double Weight, double Beta2, double OneMinusBeta2,
    double Epsilon, double StepSize, double BiasCorrection2Sqrt)
{
    /// <summary>The scalars of step <paramref name="step"/> (1 for the first update).</summary>
    public static AdamWStepScalars Create(double learningRate, double weightDecay, double beta1, double beta2,
        double epsilon, long step) =>
        new(1 - learningRate * weightDecay, 1 - beta1, beta2, 1 - beta2, epsilon,
            learningRate / (1 - Math.Pow(beta1, step)), Math.Sqrt(1 - Math.Pow(beta2, step)));
}
