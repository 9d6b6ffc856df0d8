using System.Buffers.Binary;

namespace QuantNative.Cli.Doctor;

/// <summary>
/// What a fatbin file holds, read from its headers (the layout cuobjdump lists): a 16-byte file header (magic
/// 0xBA55ED50, version, header size, size of the entries), then entries of a 64-byte-or-longer header (kind 1 = PTX,
/// 2 = ELF cubin; header size; payload size; ...; the SM architecture at byte 28) followed by their payload.
/// `qn doctor` uses it to say which GPUs the built kernels run on.
/// </summary>
public static class FatbinContents
{
    private const uint Magic = 0xBA55ED50;

    /// <summary>The entries as "sm_80" (machine code) or "sm_90 PTX", in file order; an error naming the file when
    /// it is not a fatbin.</summary>
    public static IReadOnlyList<string> Architectures(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 16 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw new QuantNativeException($"{path}: not a CUDA fatbin (expected the magic number 0x{Magic:X8} at its start)");
        int headerSize = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6));
        long end = headerSize + (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8));
        if (headerSize < 16 || end > bytes.Length)
            throw new QuantNativeException($"{path}: fatbin header says {end} bytes, the file has {bytes.Length}");
        var found = new List<string>();
        for (long at = headerSize; at + 48 <= end;)
        {
            var entry = bytes.AsSpan((int)at);
            int kind = BinaryPrimitives.ReadUInt16LittleEndian(entry);
            uint entryHeader = BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]);
            ulong payload = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
            uint arch = BinaryPrimitives.ReadUInt32LittleEndian(entry[28..]);
            if (entryHeader < 48 || at + entryHeader + (long)payload > end)
                throw new QuantNativeException($"{path}: fatbin entry at byte {at} runs past the end of the file");
            found.Add(kind == 1 ? $"sm_{arch} PTX" : $"sm_{arch}");
            at += entryHeader + (long)payload;
        }
        return found;
    }
}
