using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// One linear layer in the GPTQ checkpoint convention (DESIGN.md §5), the tensors as they are written:
/// qweight int32 [Words(in), out] packed along the input dimension, qzeros int32 [groups, Words(out)] packed along the
/// output dimension, scales fp16 bits [groups, out], g_idx int32 [in]. Words(n) = n·bits/32, rounded up with zero
/// padding when n·bits is not a multiple of 32 (see <see cref="BitStream32"/>).
/// </summary>
public sealed class PackedGptqLinear
{
    public required int Bits { get; init; }
    public required int InFeatures { get; init; }
    public required int OutFeatures { get; init; }

    /// <summary>As quantize_config.json spells it: g, or −1 for per-channel.</summary>
    public required int GroupSize { get; init; }

    public required bool Symmetric { get; init; }
    public required GptqCheckpointFormat Format { get; init; }

    public required int[] QWeight { get; init; }
    public required int[] QZeros { get; init; }
    public required ushort[] Scales { get; init; }
    public required int[] GIdx { get; init; }

    public int Groups => new GroupLayout(InFeatures, GroupSize).Groups;

    /// <summary>qweight's shape [rows, columns].</summary>
    public (int Rows, int Columns) QWeightShape => (BitStream32.Words(InFeatures, Bits), OutFeatures);

    /// <summary>qzeros's shape [rows, columns].</summary>
    public (int Rows, int Columns) QZerosShape => (Groups, BitStream32.Words(OutFeatures, Bits));

    /// <summary>scales's shape [rows, columns].</summary>
    public (int Rows, int Columns) ScalesShape => (Groups, OutFeatures);
}
