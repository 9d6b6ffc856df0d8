namespace QuantNative.Formats.Gguf;

/// <summary>What the exporter did with one tensor: its GGUF type, how the blocks were made, why the type differs from
/// the one asked for (a fallback), and the distance of what llama.cpp will compute (the GGUF's dequantization) from
/// qn's own weights for it: relative Frobenius ‖Ŵ_gguf − Ŵ_qn‖/‖Ŵ_qn‖ and the largest |Δ|; for Q4_1/Q5_1 from codes
/// also the largest |m − (−z·s)| relative to s (m is fp16, −z·s is not always one).</summary>
public sealed record GgufTensorReport(string Name, long Rows, long Columns, GgmlType Type, string How, string? Fallback,
    double RelativeDistance, double MaxAbsDistance, double? MaxOffsetError)
{
    public long Bytes => Type.RowBytes(Columns) * Rows;
}
