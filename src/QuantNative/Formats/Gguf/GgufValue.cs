namespace QuantNative.Formats.Gguf;

/// <summary>gguf_type of the GGUF spec: the type tag of a metadata value.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One metadata value as the file holds it: a scalar (its .NET value: uint, int, float, bool, string, ulong, …) or an
/// array (a .NET array of the element type: string[], float[], int[], uint[], bool[], …), with its GGUF type tags.
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public static GgufValue Of(string v) => new(GgufValueType.String, v);
    public static GgufValue Of(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Of(int v) => new(GgufValueType.Int32, v);
    public static GgufValue Of(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Of(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue Of(string[] v) => new(GgufValueType.Array, v, GgufValueType.String);
    public static GgufValue Of(float[] v) => new(GgufValueType.Array, v, GgufValueType.Float32);
    public static GgufValue Of(int[] v) => new(GgufValueType.Array, v, GgufValueType.Int32);

    /// <summary>An integer scalar of any width as a long (the spec lets writers choose the width of counts).</summary>
    public long AsInteger(string key) => Value switch
    {
        byte b => b, sbyte b => b, ushort s => s, short s => s, uint u => u, int i => i, ulong u => (long)u, long l => l,
        _ => throw new QuantNativeException($"GGUF key {key}: expected an integer, found {Type}"),
    };

    public double AsNumber(string key) => Value switch
    {
        float f => f, double d => d, _ => AsInteger(key),
    };

    public override string ToString() => Value is Array a ? $"[{ElementType} × {a.Length}]" : $"{Value}";
}
