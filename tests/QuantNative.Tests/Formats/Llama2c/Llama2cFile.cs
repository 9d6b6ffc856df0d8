namespace QuantNative.Tests.Formats.Llama2c;

/// <summary>
/// The test's own reading of a llama2.c file, straight from the README's layout (independent of the library's
/// Llama2cLayout): header ints, and the raw float32 arrays in file order.
/// </summary>
internal sealed class Llama2cFile
{
    public int[] Header { get; }
    public Dictionary<string, float[]> Arrays { get; } = new();

    public Llama2cFile(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        Header = Enumerable.Range(0, 7).Select(_ => reader.ReadInt32()).ToArray();
        int dim = Header[0], hidden = Header[1], layers = Header[2], heads = Header[3], kvHeads = Header[4];
        int vocab = Math.Abs(Header[5]), seq = Header[6], headSize = dim / heads, kvDim = kvHeads * headSize;
        var sizes = new List<(string, int)>
        {
            ("token_embedding_table", vocab * dim), ("rms_att_weight", layers * dim), ("wq", layers * dim * dim),
            ("wk", layers * kvDim * dim), ("wv", layers * kvDim * dim), ("wo", layers * dim * dim),
            ("rms_ffn_weight", layers * dim), ("w1", layers * hidden * dim), ("w2", layers * dim * hidden),
            ("w3", layers * hidden * dim), ("rms_final_weight", dim),
            ("freq_cis_real", seq * headSize / 2), ("freq_cis_imag", seq * headSize / 2),
        };
        if (Header[5] < 0) sizes.Add(("wcls", vocab * dim));
        foreach (var (name, n) in sizes)
            Arrays[name] = Enumerable.Range(0, n).Select(_ => reader.ReadSingle()).ToArray();
        if (reader.BaseStream.Position != reader.BaseStream.Length)
            throw new InvalidDataException($"{path}: {reader.BaseStream.Length - reader.BaseStream.Position} bytes left over");
    }

    /// <summary>Layer <paramref name="layer"/>'s slice of a per-layer array.</summary>
    public float[] Layer(string name, int layer)
    {
        var all = Arrays[name];
        int n = all.Length / Header[2];
        return all.AsSpan(layer * n, n).ToArray();
    }
}
