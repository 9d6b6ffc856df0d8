namespace QuantNative.Formats.Gguf;

/// <summary>
/// ggml's 32-element block types (ggml-common.h), byte for byte: Q4_0 {fp16 d; 16 nibbles} with x = (q − 8)·d,
/// Q4_1 {d, m; 16 nibbles} with x = q·d + m, Q5_0/Q5_1 (a fifth bit per element in qh), Q8_0 {d; int8[32]} with
/// x = q·d, IQ4_NL {d; 16 nibbles} with x = d·kvalues[q]. In every nibble type element j of a block is the low nibble
/// of byte j and element j + 16 its high nibble. Dequantization is dequantize_row_* of ggml-quants.c; the encoders
/// take codes that are already decided (qn's exact exports) or the weights (quantize_row_*_ref, for the formats qn
/// has no codes for).
/// </summary>
public static class Block32Codec
{
    public const int Size = 32;

    /// <summary>IQ4_NL's non-linear levels (kvalues_iq4nl in ggml-common.h).</summary>
    internal static readonly sbyte[] Iq4nlValues = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>One block of codes: q[32] in [0, 2^bits), the block scale d and (Q4_1/Q5_1) the offset m, both already
    /// what will be stored (fp16-rounded by the caller or here). Q4_0/Q5_0/Q8_0 take q as the stored unsigned code
    /// (Q8_0: q − 128 is written as int8).</summary>
    public static void EncodeCodes(GgmlType type, ReadOnlySpan<byte> q, float d, float m, Span<byte> block)
    {
        switch (type)
        {
            case GgmlType.Q4_0:
            case GgmlType.IQ4_NL:
                Fp16.Write(block, d);
                Nibbles(q, block.Slice(2, 16));
                break;
            case GgmlType.Q4_1:
                Fp16.Write(block, d);
                Fp16.Write(block[2..], m);
                Nibbles(q, block.Slice(4, 16));
                break;
            case GgmlType.Q5_0:
                Fp16.Write(block, d);
                FiveBits(q, block.Slice(2, 4), block.Slice(6, 16));
                break;
            case GgmlType.Q5_1:
                Fp16.Write(block, d);
                Fp16.Write(block[2..], m);
                FiveBits(q, block.Slice(4, 4), block.Slice(8, 16));
                break;
            case GgmlType.Q8_0:
                Fp16.Write(block, d);
                for (int j = 0; j < Size; j++) block[2 + j] = unchecked((byte)(sbyte)(q[j] - 128));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a 32-element block type");
        }
    }

    private static void Nibbles(ReadOnlySpan<byte> q, Span<byte> qs)
    {
        for (int j = 0; j < 16; j++) qs[j] = (byte)((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    }

    private static void FiveBits(ReadOnlySpan<byte> q, Span<byte> qh, Span<byte> qs)
    {
        uint h = 0;
        for (int j = 0; j < 16; j++)
        {
            qs[j] = (byte)((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
            h |= (uint)((q[j] >> 4) & 1) << j;
            h |= (uint)((q[j + 16] >> 4) & 1) << (j + 16);
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(qh, h);
    }

    /// <summary>dequantize_row_* of one block into <paramref name="y"/>[32].</summary>
    public static void Decode(GgmlType type, ReadOnlySpan<byte> block, Span<float> y)
    {
        switch (type)
        {
            case GgmlType.Q4_0:
            {
                float d = Fp16.Read(block);
                for (int j = 0; j < 16; j++)
                {
                    y[j] = ((block[2 + j] & 0x0F) - 8) * d;
                    y[j + 16] = ((block[2 + j] >> 4) - 8) * d;
                }
                break;
            }
            case GgmlType.IQ4_NL:
            {
                float d = Fp16.Read(block);
                for (int j = 0; j < 16; j++)
                {
                    y[j] = d * Iq4nlValues[block[2 + j] & 0x0F];
                    y[j + 16] = d * Iq4nlValues[block[2 + j] >> 4];
                }
                break;
            }
            case GgmlType.Q4_1:
            {
                float d = Fp16.Read(block), m = Fp16.Read(block[2..]);
                for (int j = 0; j < 16; j++)
                {
                    y[j] = (block[4 + j] & 0x0F) * d + m;
                    y[j + 16] = (block[4 + j] >> 4) * d + m;
                }
                break;
            }
            case GgmlType.Q5_0:
            case GgmlType.Q5_1:
            {
                bool one = type == GgmlType.Q5_1;
                float d = Fp16.Read(block), m = one ? Fp16.Read(block[2..]) : 0f;
                int at = one ? 4 : 2;
                uint qh = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(block[at..]);
                var qs = block.Slice(at + 4, 16);
                for (int j = 0; j < 16; j++)
                {
                    int x0 = (qs[j] & 0x0F) | (int)(((qh >> j) << 4) & 0x10);
                    int x1 = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
                    if (one)
                    {
                        y[j] = x0 * d + m;
                        y[j + 16] = x1 * d + m;
                    }
                    else
                    {
                        y[j] = (x0 - 16) * d;
                        y[j + 16] = (x1 - 16) * d;
                    }
                }
                break;
            }
            case GgmlType.Q8_0:
            {
                float d = Fp16.Read(block);
                for (int j = 0; j < Size; j++) y[j] = (sbyte)block[2 + j] * d;
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a 32-element block type");
        }
    }

    /// <summary>quantize_row_*_ref of ggml-quants.c for one block of weights (what llama-quantize writes without an
    /// importance matrix): Q4_0/Q5_0 from the element of largest magnitude (d = max/−8, −16), Q4_1/Q5_1 from min and
    /// max, Q8_0 from max|x|/127. The truncating casts and +0.5/+8.5 offsets are ggml's.</summary>
    public static void QuantizeReference(GgmlType type, ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> q = stackalloc byte[Size];
        switch (type)
        {
            case GgmlType.Q4_0:
            case GgmlType.Q5_0:
            {
                float amax = 0, max = 0;
                foreach (float v in x)
                    if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
                bool four = type == GgmlType.Q4_0;
                float d = max / (four ? -8 : -16);
                float id = d != 0 ? 1.0f / d : 0.0f;
                for (int j = 0; j < Size; j++)
                    q[j] = four ? (byte)Math.Min(15, (int)(sbyte)(int)(x[j] * id + 8.5f))
                                : (byte)Math.Min(31, (int)(sbyte)(int)(x[j] * id + 16.5f));
                EncodeCodes(type, q, d, 0, block);
                break;
            }
            case GgmlType.Q4_1:
            case GgmlType.Q5_1:
            {
                float min = float.MaxValue, max = -float.MaxValue;
                foreach (float v in x)
                {
                    if (v < min) min = v;
                    if (v > max) max = v;
                }
                bool four = type == GgmlType.Q4_1;
                float d = (max - min) / (four ? 15 : 31);
                float id = d != 0 ? 1.0f / d : 0.0f;
                for (int j = 0; j < Size; j++)
                {
                    float v = (x[j] - min) * id;
                    q[j] = four ? (byte)Math.Min(15, (int)(sbyte)(int)(v + 0.5f)) : (byte)(int)(v + 0.5f);
                }
                EncodeCodes(type, q, d, min, block);
                break;
            }
            case GgmlType.Q8_0:
            {
                float amax = 0;
                foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
                float d = amax / 127;
                float id = d != 0 ? 1.0f / d : 0.0f;
                // roundf: half away from zero.
                for (int j = 0; j < Size; j++) q[j] = (byte)((int)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero) + 128);
                EncodeCodes(type, q, d, 0, block);
                break;
            }
            case GgmlType.IQ4_NL:
                Iq4Nl.Quantize(x, block);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a 32-element block type");
        }
    }
}
