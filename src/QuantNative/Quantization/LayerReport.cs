namespace QuantNative.Quantization;

/// <summary>What quantizing one linear layer did, for the summary table.</summary>
/// <param name="Name">model.layers.i.part</param>
/// <param name="RelativeError">‖W − Ŵ‖/‖W‖ (Frobenius) of the stored weights against the original ones.</param>
/// <param name="Seconds">Time of this layer's quantization (its share of calibration forwards excluded).</param>
/// <param name="ClampedGroups">Groups whose zero point 0 was moved to 1 so checkpoint format v1 can store it.</param>
/// <param name="ClippedCodes">Codes that were already qmax in such groups and lost one step (the only weights v1 changes).</param>
/// <param name="DeadColumns">GPTQ: inputs never active in calibration (their weights set to zero).</param>
/// <param name="GroupNote">The ragged last-group note when g does not divide the input size; null otherwise.</param>
public sealed record LayerReport(string Name, int Rows, int Columns, double RelativeError, double Seconds,
    int ClampedGroups, int ClippedCodes, int DeadColumns, string? GroupNote);
