using System.Buffers.Binary;

namespace QuantNative.Tokenization;

/// <summary>
/// Walks the fields of one protobuf message (wire types 0, 1, 2 and 5). Malformed input — a varint that does not
/// end, a length past the end of the message — throws a <see cref="QuantNativeException"/> with the given context.
/// </summary>
internal ref struct ProtobufReader
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _context;
    private int _position;

    /// <param name="data">The message's bytes.</param>
    /// <param name="context">Prefix for error messages, e.g. "tokenizer.model: not a SentencePiece model".</param>
    public ProtobufReader(ReadOnlySpan<byte> data, string context)
    {
        _data = data;
        _context = context;
    }

    public bool TryReadTag(out int field, out int wireType)
    {
        field = wireType = 0;
        if (_position >= _data.Length) return false;
        ulong tag = ReadVarint();
        field = (int)Math.Min(tag >> 3, int.MaxValue);
        wireType = (int)(tag & 7);
        if (field == 0) throw Malformed($"field number 0 at byte {_position}");
        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length) throw Malformed("a varint runs past the end");
            byte b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw Malformed($"a varint longer than 10 bytes ends at byte {_position}");
    }

    public int ReadInt32(int wireType)
    {
        Expect(wireType, WireVarint);
        return (int)ReadVarint(); // negative int32 values are sign-extended 64-bit varints
    }

    public bool ReadBool(int wireType)
    {
        Expect(wireType, WireVarint);
        return ReadVarint() != 0;
    }

    public float ReadFloat(int wireType)
    {
        Expect(wireType, WireFixed32);
        return BinaryPrimitives.ReadSingleLittleEndian(Take(4));
    }

    public ReadOnlySpan<byte> ReadBytes(int wireType)
    {
        Expect(wireType, WireLengthDelimited);
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
            throw Malformed($"a field of {length} bytes at byte {_position} runs past the end ({_data.Length} bytes)");
        return Take((int)length);
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case WireVarint: ReadVarint(); break;
            case WireFixed64: Take(8); break;
            case WireLengthDelimited: ReadBytes(wireType); break;
            case WireFixed32: Take(4); break;
            default: throw Malformed($"unsupported wire type {wireType} at byte {_position}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (_data.Length - _position < count) throw Malformed("a field runs past the end");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }

    private readonly void Expect(int wireType, int expected)
    {
        if (wireType != expected)
            throw Malformed($"wire type {wireType} where {expected} was expected");
    }

    private readonly QuantNativeException Malformed(string what) => new($"{_context}: malformed protobuf: {what}");
}
