using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// Packs a <see cref="QuantizedMatrix"/> into the GPTQ checkpoint tensors and back; Unpack(Pack(m)) reproduces m exactly
/// (codes, the fp16 scales, zeros, g_idx), so a reloaded model computes what the quantizer computed.
/// <para>
/// Version 1 stores zero − 1. A zero point of 0 has no v1 encoding (AutoGPTQ wrote −1 and corrupted the neighbouring
/// values; readers that add 1 to a masked field would read 2^bits). We refuse to write it: <see cref="Pack"/> throws,
/// naming the tensor and how many groups have zero 0, and the caller either writes v2 or first applies
/// <see cref="V1Zeros.ClampToOne"/>, which changes the matrix (and so what the model computes) explicitly and reports
/// how much. The packer itself never changes a value.
/// </para>
/// </summary>
public static class GptqPacker
{
    private static void RequireGptqBits(int bits, string tensor)
    {
        if (!QuantizerConfig.GptqBits.Contains(bits))
            throw new QuantNativeException($"{tensor}: {bits}-bit codes: a GPTQ checkpoint packs {string.Join(", ", QuantizerConfig.GptqBits)} bits " +
                                           "(AutoGPTQ, vLLM); W5 and W6 are written as GGUF (--format gguf)");
    }

    public static PackedGptqLinear Pack(QuantizedMatrix m, GptqCheckpointFormat format, string tensor = "weight")
    {
        int bits = m.Config.Bits, rows = m.Rows, columns = m.Columns, groups = m.Groups;
        RequireGptqBits(bits, tensor);
        if (m.Config.FreeMinimum)
            throw new QuantNativeException($"{tensor}: free-minimum codes (--free-min, ŵ = q·s + m): a GPTQ checkpoint stores integer " +
                                           "zero points; write them as GGUF (--format gguf: Q4_1/Q5_1 exactly, or a K-quant)");
        int zeroShift = ZeroShift(format, tensor);
        if (zeroShift == 1)
        {
            int zeroGroups = m.Zeros.Count(z => z == 0);
            if (zeroGroups > 0)
                throw new QuantNativeException(
                    $"{tensor}: {zeroGroups} of {m.Zeros.Length} groups have zero point 0, which checkpoint format v1 " +
                    "cannot store (it stores zero − 1): write format v2, or clamp those zeros to 1 first (V1Zeros.ClampToOne)");
        }

        // qweight [Words(in), out]: column o holds row o of the codes, packed along the input dimension.
        var codes = new int[columns];
        var qweight = new int[BitStream32.Words(columns, bits) * rows];
        for (int o = 0; o < rows; o++)
        {
            for (int c = 0; c < columns; c++) codes[c] = m.Codes[o * columns + c];
            BitStream32.Pack(codes, 1, columns, bits, qweight.AsSpan(o), rows);
        }

        // qzeros [groups, Words(out)]: row g holds every output's zero of group g, packed along the output dimension.
        int zeroWords = BitStream32.Words(rows, bits);
        var qzeros = new int[groups * zeroWords];
        var stored = new int[rows];
        for (int g = 0; g < groups; g++)
        {
            for (int o = 0; o < rows; o++) stored[o] = m.Zeros[o * groups + g] - zeroShift;
            BitStream32.Pack(stored, 1, rows, bits, qzeros.AsSpan(g * zeroWords), 1);
        }

        // scales [groups, out] as fp16: exact, the matrix already holds fp16 values.
        var scales = new ushort[groups * rows];
        for (int o = 0; o < rows; o++)
        for (int g = 0; g < groups; g++)
            scales[g * rows + o] = BitConverter.HalfToUInt16Bits((Half)m.Scales[o * groups + g]);

        return new PackedGptqLinear
        {
            Bits = bits, InFeatures = columns, OutFeatures = rows, GroupSize = m.Config.GroupSize,
            Symmetric = m.Config.Symmetric, Format = format,
            QWeight = qweight, QZeros = qzeros, Scales = scales, GIdx = (int[])m.GroupIndex.Clone(),
        };
    }

    public static QuantizedMatrix Unpack(PackedGptqLinear p, string tensor = "weight")
    {
        RequireGptqBits(p.Bits, tensor);
        var config = new QuantizerConfig(p.Bits, p.GroupSize, p.Symmetric);
        int rows = p.OutFeatures, columns = p.InFeatures;
        if (rows <= 0 || columns <= 0)
            throw new QuantNativeException($"{tensor}: in_features {columns}, out_features {rows}: expected positive sizes");
        int groups = config.Layout(columns).Groups;
        RequireShape(p.QWeight.Length, p.QWeightShape, tensor, "qweight");
        RequireShape(p.QZeros.Length, p.QZerosShape, tensor, "qzeros");
        RequireShape(p.Scales.Length, p.ScalesShape, tensor, "scales");
        RequireShape(p.GIdx.Length, (columns, 1), tensor, "g_idx");
        int zeroShift = ZeroShift(p.Format, tensor);

        var codes = new byte[rows * columns];
        var row = new int[columns];
        for (int o = 0; o < rows; o++)
        {
            BitStream32.Unpack(p.QWeight.AsSpan(o), rows, columns, p.Bits, row, 1);
            for (int c = 0; c < columns; c++) codes[o * columns + c] = (byte)row[c];
        }

        int zeroWords = BitStream32.Words(rows, p.Bits);
        var zeros = new int[rows * groups];
        var stored = new int[rows];
        for (int g = 0; g < groups; g++)
        {
            BitStream32.Unpack(p.QZeros.AsSpan(g * zeroWords), 1, rows, p.Bits, stored, 1);
            for (int o = 0; o < rows; o++)
            {
                int z = stored[o] + zeroShift;
                if (z > config.MaxCode)
                    throw new QuantNativeException(
                        $"{tensor}: qzeros[{g}] output {o} stores {stored[o]}, a zero point of {z} in format v1: more " +
                        $"than qmax = {config.MaxCode} (a zero point of 0 written as −1 by a v1 writer?)");
                zeros[o * groups + g] = z;
            }
        }

        var scales = new float[rows * groups];
        for (int g = 0; g < groups; g++)
        for (int o = 0; o < rows; o++)
            scales[o * groups + g] = (float)BitConverter.UInt16BitsToHalf(p.Scales[g * rows + o]);

        return new QuantizedMatrix(rows, columns, config, codes, scales, zeros, (int[])p.GIdx.Clone(), tensor);
    }

    private static int ZeroShift(GptqCheckpointFormat format, string tensor) => format switch
    {
        GptqCheckpointFormat.V1 => 1,
        GptqCheckpointFormat.V2 => 0,
        _ => throw new QuantNativeException($"{tensor}: checkpoint format {(int)format}: expected 1 (gptq) or 2 (gptq_v2)"),
    };

    private static void RequireShape(int length, (int Rows, int Columns) shape, string tensor, string what)
    {
        if (length != (long)shape.Rows * shape.Columns)
            throw new QuantNativeException(
                $"{tensor}.{what}: {length} elements, expected [{shape.Rows}, {shape.Columns}] = {(long)shape.Rows * shape.Columns}");
    }
}
