using QuantNative.Model;

namespace QuantNative.Formats;

/// <summary>
/// A model held in arrays (internal layout: rotate-half wq/wk, [out, in] matrices). Lets tests and tools build or
/// transform a model and hand it to any writer, which all take an <see cref="IModelSource"/>.
/// </summary>
public sealed class InMemoryModelSource : IModelSource
{
    private readonly float[] _embedding;
    private readonly LlamaBlockWeights[] _blocks;
    private readonly float[] _finalNorm;
    private readonly float[]? _output;

    public string Path { get; }
    public string Format => "memory";
    public LlamaConfig Config { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <param name="output">The untied output matrix; null exactly when <paramref name="config"/> ties it.</param>
    public InMemoryModelSource(LlamaConfig config, float[] embedding, IReadOnlyList<LlamaBlockWeights> blocks,
                               float[] finalNorm, float[]? output, string path = "(in memory)")
    {
        config.Validate(path);
        long vd = (long)config.VocabSize * config.HiddenSize;
        if (embedding.Length != vd)
            throw new QuantNativeException($"{path}: token embedding has {embedding.Length} elements, expected {vd}");
        if (blocks.Count != config.NumLayers)
            throw new QuantNativeException($"{path}: {blocks.Count} blocks, expected {config.NumLayers}");
        for (int i = 0; i < blocks.Count; i++) blocks[i].Validate(config, i, path);
        if (finalNorm.Length != config.HiddenSize)
            throw new QuantNativeException($"{path}: final norm has {finalNorm.Length} elements, expected {config.HiddenSize}");
        if (config.TieWordEmbeddings != (output == null))
            throw new QuantNativeException($"{path}: an output matrix must be given exactly when the config does not tie it");
        if (output != null && output.Length != vd)
            throw new QuantNativeException($"{path}: output matrix has {output.Length} elements, expected {vd}");

        (Config, _embedding, _blocks, _finalNorm, _output, Path) = (config, embedding, blocks.ToArray(), finalNorm, output, path);
        Tensors = HuggingFace.HuggingFaceNames.Expected(config)
            .Select(t => new TensorInfo(t.Name, "F32", t.Shape)).ToArray();
    }

    public float[] LoadTokenEmbedding() => (float[])_embedding.Clone();
    public float[] LoadFinalNorm() => (float[])_finalNorm.Clone();
    public float[] LoadOutput() => (float[])(_output ?? _embedding).Clone();

    public LlamaBlockWeights LoadBlock(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Config.NumLayers);
        var b = _blocks[layer];
        return new LlamaBlockWeights
        {
            AttnNorm = (float[])b.AttnNorm.Clone(), Wq = (float[])b.Wq.Clone(), Wk = (float[])b.Wk.Clone(),
            Wv = (float[])b.Wv.Clone(), Wo = (float[])b.Wo.Clone(), FfnNorm = (float[])b.FfnNorm.Clone(),
            WGate = (float[])b.WGate.Clone(), WUp = (float[])b.WUp.Clone(), WDown = (float[])b.WDown.Clone(),
            Extras = b.Extras.Map(a => (float[])a.Clone()),
        };
    }

    public void Dispose() { }
}
