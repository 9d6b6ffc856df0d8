using QuantNative.Formats.HuggingFace;
using QuantNative.Model;

namespace QuantNative.Benchmarks;

/// <summary>
/// A model of a given architecture with random weights (<see cref="SyntheticBlock"/>: uniform ±1/√fan-in, norms 1),
/// produced a block at a time from a seed, so a writer can stream a 7B-shaped checkpoint to disk without holding it:
/// the checkpoints the memory and speed bars of issue 13 are measured on.
/// </summary>
public sealed class SyntheticModelSource(LlamaConfig config, int seed) : IModelSource
{
    public string Path => $"synthetic {config.HiddenSize}x{config.NumLayers} (seed {seed})";
    public string Format => "synthetic";
    public LlamaConfig Config => config;
    public IReadOnlyList<TensorInfo> Tensors { get; } =
        HuggingFaceNames.Expected(config).Select(t => new TensorInfo(t.Name, "F32", t.Shape)).ToArray();

    public float[] LoadTokenEmbedding() => SyntheticBlock.Uniform(new Random(seed), config.VocabSize, config.HiddenSize);
    public LlamaBlockWeights LoadBlock(int layer) => SyntheticBlock.Create(config, seed + 1 + layer);
    public float[] LoadFinalNorm() => Enumerable.Repeat(1f, config.HiddenSize).ToArray();
    public float[] LoadOutput() => config.TieWordEmbeddings
        ? LoadTokenEmbedding()
        : SyntheticBlock.Uniform(new Random(seed - 1), config.VocabSize, config.HiddenSize);

    public void Dispose() { }
}
