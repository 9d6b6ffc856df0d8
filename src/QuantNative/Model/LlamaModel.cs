namespace QuantNative.Model;

/// <summary>A whole model in memory, fp32, internal layout. Inference and evaluation use it.</summary>
public sealed class LlamaModel
{
    public required LlamaConfig Config { get; init; }
    public required float[] TokenEmbedding { get; init; }   // [vocab, hidden]
    public required LlamaBlockWeights[] Blocks { get; init; }
    public required float[] FinalNorm { get; init; }        // [hidden]
    public required float[] Output { get; init; }           // [vocab, hidden]

    /// <summary>Reads every tensor of <paramref name="source"/>, checking each shape against the configuration.</summary>
    public static LlamaModel Load(IModelSource source)
    {
        var c = source.Config;
        var embedding = source.LoadTokenEmbedding();
        RequireLength(embedding, (long)c.VocabSize * c.HiddenSize, "token embedding", source.Path);
        var blocks = new LlamaBlockWeights[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++)
        {
            blocks[i] = source.LoadBlock(i);
            blocks[i].Validate(c, i, source.Path);
        }
        var norm = source.LoadFinalNorm();
        RequireLength(norm, c.HiddenSize, "final norm", source.Path);
        var output = c.TieWordEmbeddings ? embedding : source.LoadOutput();
        RequireLength(output, (long)c.VocabSize * c.HiddenSize, "output (lm_head)", source.Path);
        return new LlamaModel { Config = c, TokenEmbedding = embedding, Blocks = blocks, FinalNorm = norm, Output = output };
    }

    private static void RequireLength(float[] a, long expected, string name, string path)
    {
        if (a.Length != expected)
            throw new QuantNativeException($"{path}: tensor '{name}' has {a.Length} elements, expected {expected}");
    }
}
