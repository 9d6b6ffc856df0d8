using System.Buffers.Binary;
using System.Text;

namespace QuantNative.Tokenization;

/// <summary>
/// The few parts of the protobuf wire format a SentencePiece model needs: varints (wire type 0), fixed32 floats
/// (type 5) and length-delimited strings and nested messages (type 2). Fields are written in the order called.
/// </summary>
internal sealed class ProtobufWriter
{
    private const int WireVarint = 0, WireLengthDelimited = 2, WireFixed32 = 5;
    private readonly MemoryStream _buffer = new();

    public void WriteInt32(int field, int value)
    {
        WriteTag(field, WireVarint);
        // Protobuf sign-extends negative int32 to 64 bits: -1 takes ten bytes.
        WriteVarint((ulong)(long)value);
    }

    public void WriteBool(int field, bool value)
    {
        WriteTag(field, WireVarint);
        WriteVarint(value ? 1UL : 0UL);
    }

    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireFixed32);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
    }

    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    public void WriteMessage(int field, ProtobufWriter message) => WriteBytes(field, message.ToArray());

    public byte[] ToArray() => _buffer.ToArray();

    private void WriteBytes(int field, ReadOnlySpan<byte> bytes)
    {
        WriteTag(field, WireLengthDelimited);
        WriteVarint((ulong)bytes.Length);
        _buffer.Write(bytes);
    }

    private void WriteTag(int field, int wireType) => WriteVarint(((ulong)(uint)field << 3) | (uint)wireType);

    private void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }
}
