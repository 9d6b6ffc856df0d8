using QuantNative.Model.Quantized;

namespace QuantNative.Quantization.Gptq;

/// <summary>What GPTQ returns for one layer.</summary>
/// <param name="Matrix">The quantized weights (natural column order; g_idx permuted with act-order).</param>
/// <param name="RelativeError">‖W − Ŵ‖/‖W‖ (Frobenius) against the weights as given, dead columns included.</param>
/// <param name="Loss">GPTQ's loss Σ (w − ŵ)²/(2·U_jj²): the increase of the layer's output error the algorithm tracks.</param>
/// <param name="DeadColumns">Inputs whose H_ii was 0 (never active in calibration); their weights are set to zero.</param>
/// <param name="Permutation">Act-order's quantization order (original column of each position), null without act-order.</param>
public sealed record GptqResult(QuantizedMatrix Matrix, double RelativeError, double Loss, int DeadColumns, int[]? Permutation);
