using System.Runtime.InteropServices;
using QuantNative.Model;

namespace QuantNative.Formats.Llama2c;

/// <summary>
/// A legacy llama2.c checkpoint (.bin), memory-mapped; tensors are copied out one block at a time. wq and wk are
/// converted from llama2.c's adjacent-pair RoPE layout to the internal rotate-half layout on load.
/// </summary>
public sealed class Llama2cCheckpoint : IModelSource
{
    private readonly MappedFile _file;
    private readonly Llama2cLayout _layout;

    public string Path { get; }
    public string Format => "llama2.c";
    public LlamaConfig Config { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }

    private Llama2cCheckpoint(string path, MappedFile file, Llama2cLayout layout)
    {
        Path = path;
        _file = file;
        _layout = layout;
        Config = layout.ToConfig();
        Tensors = layout.Arrays.Select(a => new TensorInfo(a.Name, "F32", a.Shape)).ToArray();
    }

    /// <summary>
    /// Opens <paramref name="path"/>, validating the header and that the file is exactly as long as the header implies
    /// (a truncated download or a different format fails here, not halfway through a run).
    /// </summary>
    public static Llama2cCheckpoint Open(string path)
    {
        if (!File.Exists(path))
            throw new QuantNativeException(Directory.Exists(path)
                ? $"{path}: is a directory, expected a llama2.c checkpoint file"
                : $"{path}: llama2.c checkpoint not found");
        long size = MappedFile.SizeOf(path);
        if (size < Llama2cLayout.HeaderBytes)
            throw new QuantNativeException(
                $"{path}: {size} bytes is too short for a llama2.c checkpoint (the header alone is {Llama2cLayout.HeaderBytes} bytes)");

        var file = MappedFile.Open(path);
        try
        {
            var header = MemoryMarshal.Cast<byte, int>(file.Span(0, Llama2cLayout.HeaderBytes));
            var layout = Llama2cLayout.FromHeader(header, path);
            if (layout.FileBytes != size)
                throw new QuantNativeException(
                    $"{path}: file size {size} bytes does not match the {layout.FileBytes} bytes its header implies " +
                    $"(dim={layout.Dim}, hidden_dim={layout.HiddenDim}, n_layers={layout.Layers}, n_heads={layout.Heads}, " +
                    $"n_kv_heads={layout.KvHeads}, vocab_size={layout.HeaderValues()[5]}, seq_len={layout.SeqLen}); " +
                    (size < layout.FileBytes ? "the file is truncated or the header is wrong" : "the file has extra bytes"));
            var checkpoint = new Llama2cCheckpoint(path, file, layout);
            checkpoint.Config.Validate(path);
            return checkpoint;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public float[] LoadTokenEmbedding() => Read("token_embedding_table", layer: null);

    public float[] LoadFinalNorm() => Read("rms_final_weight", layer: null);

    public float[] LoadOutput() => Read(Config.TieWordEmbeddings ? "token_embedding_table" : "wcls", layer: null);

    public LlamaBlockWeights LoadBlock(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Config.NumLayers);
        int hd = Config.HeadDim, d = Config.HiddenSize;
        var block = new LlamaBlockWeights
        {
            AttnNorm = Read("rms_att_weight", layer),
            Wq = RopeLayout.AdjacentPairsToRotateHalf(Read("wq", layer), Config.NumHeads, hd, d),
            Wk = RopeLayout.AdjacentPairsToRotateHalf(Read("wk", layer), Config.NumKvHeads, hd, d),
            Wv = Read("wv", layer),
            Wo = Read("wo", layer),
            FfnNorm = Read("rms_ffn_weight", layer),
            WGate = Read("w1", layer),
            WUp = Read("w3", layer),
            WDown = Read("w2", layer),
        };
        block.Validate(Config, layer, Path);
        return block;
    }

    /// <summary>The whole array <paramref name="name"/>, or layer <paramref name="layer"/>'s slice of a per-layer one.</summary>
    private float[] Read(string name, int? layer)
    {
        var array = _layout[name];
        long count = array.SliceElements(perLayer: layer != null);
        if (count > Array.MaxLength)
            throw new QuantNativeException($"{Path}: tensor '{name}' has {count} elements, more than one array can hold");
        var result = new float[count];
        FiniteWeights.Read(_file, array.Offset + (layer ?? 0) * count * sizeof(float), FloatDType.F32, result, Path,
            layer is int l ? $"{name}[{l}]" : name);
        return result;
    }

    public void Dispose() => _file.Dispose();
}
