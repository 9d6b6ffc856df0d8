using System.Buffers.Binary;
using System.Text;
using QuantNative.Tokenization;

namespace QuantNative.Tests.Tokenization;

/// <summary>Writes llama2.c tokenizer files for tests: a made-up vocabulary, or a real one to be corrupted.</summary>
internal static class Llama2cFileBuilder
{
    /// <summary>The llama2.c layout: specials, 256 byte tokens, then <paramref name="normal"/> with their scores.</summary>
    public static byte[] Build(IReadOnlyList<string> normal, IReadOnlyList<float> scores)
    {
        var pieces = new List<string> { "<unk>", "\n<s>\n", "\n</s>\n" };
        var all = new List<float> { 0, 0, 0 };
        for (int b = 0; b < 256; b++)
        {
            pieces.Add(BytePieces.Name((byte)b));
            all.Add(0);
        }
        pieces.AddRange(normal);
        all.AddRange(scores);
        return Raw(pieces.Select(Encoding.UTF8.GetBytes).ToList(), all);
    }

    public static byte[] Raw(IReadOnlyList<byte[]> pieces, IReadOnlyList<float> scores)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(pieces.Max(p => p.Length));
        for (int i = 0; i < pieces.Count; i++)
        {
            w.Write(scores[i]);
            w.Write(pieces[i].Length);
            w.Write(pieces[i]);
        }
        return ms.ToArray();
    }

    /// <summary>The offset of token <paramref name="id"/>'s record (its score) in a llama2.c tokenizer file.</summary>
    public static int RecordOffset(byte[] file, int id)
    {
        int offset = 4;
        for (int i = 0; i < id; i++)
            offset += 8 + BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(offset + 4));
        return offset;
    }

    public static string WriteTemp(string dir, string name, byte[] data)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, data);
        return path;
    }
}
