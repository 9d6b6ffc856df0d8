namespace QuantNative.Formats.Gguf;

/// <summary>The ggml tensor types qn writes and reads, with ggml's numeric ids (ggml.h, enum ggml_type).</summary>
public enum GgmlType
{
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, BF16 = 30,
}

public static class GgmlTypes
{
    /// <summary>Elements per block and bytes per block (ggml's type_traits: blck_size, type_size).</summary>
    public static (int BlockSize, int BlockBytes) Traits(this GgmlType t) => t switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 or GgmlType.BF16 => (1, 2),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.IQ4_NL => (32, 18),
        GgmlType.Q2_K => (256, 84),
        GgmlType.Q3_K => (256, 110),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q5_K => (256, 176),
        GgmlType.Q6_K => (256, 210),
        _ => throw new QuantNativeException($"ggml type {(int)t} is not one qn reads (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K..Q6_K)"),
    };

    public static bool IsKnown(int id) => Enum.IsDefined(typeof(GgmlType), id);

    /// <summary>Bytes of a row of <paramref name="columns"/> elements (columns a multiple of the block size).</summary>
    public static long RowBytes(this GgmlType t, long columns)
    {
        var (bs, bb) = t.Traits();
        return columns / bs * bb;
    }

    /// <summary>Bits per weight as llama.cpp counts them: block bytes · 8 / block size.</summary>
    public static double BitsPerWeight(this GgmlType t)
    {
        var (bs, bb) = t.Traits();
        return bb * 8.0 / bs;
    }

    /// <summary>The name as llama.cpp prints it (and as --type takes it, case-insensitive).</summary>
    public static string Name(this GgmlType t) => t.ToString();

    public static bool TryParse(string name, out GgmlType type)
    {
        foreach (GgmlType t in Enum.GetValues<GgmlType>())
            if (string.Equals(t.ToString(), name, StringComparison.OrdinalIgnoreCase))
            {
                type = t;
                return true;
            }
        type = default;
        return false;
    }

    public static bool IsKQuant(this GgmlType t) => t is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;
    public static bool IsFloat(this GgmlType t) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16;
}
