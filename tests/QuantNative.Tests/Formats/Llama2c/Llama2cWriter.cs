using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using QuantNative.Model;

using QuantNative.Formats;
using QuantNative.Formats.Llama2c;

namespace QuantNative.Tests.Formats.Llama2c;

/// <summary>
/// Writes a model as a legacy llama2.c checkpoint (the layout <see cref="Llama2cCheckpoint"/> reads), converting wq and
/// wk back to the adjacent-pair RoPE layout. Streams one block at a time: every array's offset is known from the
/// config, so each block's slices are written in place. The file appears under its name only when complete.
/// </summary>
public static class Llama2cWriter
{
    /// <summary>
    /// Writes <paramref name="source"/> to <paramref name="path"/> (replacing an existing file). llama2.c has no field
    /// for rms_norm_eps or rope_theta; a model whose values differ from 1e-5 and 10000 is refused unless
    /// <paramref name="allowConfigLoss"/>.
    /// </summary>
    public static void Write(IModelSource source, string path, bool allowConfigLoss = false)
    {
        var config = source.Config;
        var layout = Llama2cLayout.FromConfig(config, path, allowConfigLoss);
        string temp = AtomicOutput.TempSibling(path);
        try
        {
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None,
                       FileOptions.None, preallocationSize: layout.FileBytes))
            {
                RandomAccess.Write(handle, MemoryMarshal.AsBytes(layout.HeaderValues().AsSpan()), 0);
                WriteArray(handle, layout, "token_embedding_table", null,
                    Checked(source.LoadTokenEmbedding(), (long)config.VocabSize * config.HiddenSize, "token embedding", source));
                for (int layer = 0; layer < config.NumLayers; layer++)
                    WriteBlock(handle, layout, layer, source.LoadBlock(layer), source);
                WriteArray(handle, layout, "rms_final_weight", null,
                    Checked(source.LoadFinalNorm(), config.HiddenSize, "final norm", source));
                var (cos, sin) = RopeTables(layout, config.RopeTheta);
                WriteArray(handle, layout, "freq_cis_real", null, cos);
                WriteArray(handle, layout, "freq_cis_imag", null, sin);
                if (!layout.SharedClassifier)
                    WriteArray(handle, layout, "wcls", null,
                        Checked(source.LoadOutput(), (long)config.VocabSize * config.HiddenSize, "output", source));
                if (RandomAccess.GetLength(handle) != layout.FileBytes)
                    throw new InvalidOperationException($"{temp}: wrote {RandomAccess.GetLength(handle)} bytes, expected {layout.FileBytes}");
            }
            AtomicOutput.CommitFile(temp, path);
        }
        catch (Exception e)
        {
            AtomicOutput.TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new QuantNativeException($"{path}: writing the llama2.c checkpoint failed: {e.Message}", e);
            throw;
        }
    }

    private static void WriteBlock(SafeFileHandle handle, Llama2cLayout layout, int layer, LlamaBlockWeights block,
                                   IModelSource source)
    {
        var config = source.Config;
        block.Validate(config, layer, source.Path);
        int hd = config.HeadDim, d = config.HiddenSize;
        WriteArray(handle, layout, "rms_att_weight", layer, block.AttnNorm);
        WriteArray(handle, layout, "wq", layer, RopeLayout.RotateHalfToAdjacentPairs(block.Wq, config.NumHeads, hd, d));
        WriteArray(handle, layout, "wk", layer, RopeLayout.RotateHalfToAdjacentPairs(block.Wk, config.NumKvHeads, hd, d));
        WriteArray(handle, layout, "wv", layer, block.Wv);
        WriteArray(handle, layout, "wo", layer, block.Wo);
        WriteArray(handle, layout, "rms_ffn_weight", layer, block.FfnNorm);
        WriteArray(handle, layout, "w1", layer, block.WGate);
        WriteArray(handle, layout, "w2", layer, block.WDown);
        WriteArray(handle, layout, "w3", layer, block.WUp);
    }

    private static void WriteArray(SafeFileHandle handle, Llama2cLayout layout, string name, int? layer, float[] values)
    {
        var array = layout[name];
        long count = array.SliceElements(perLayer: layer != null);
        if (values.Length != count)
            throw new InvalidOperationException($"llama2.c array '{name}': {values.Length} values, expected {count}");
        RandomAccess.Write(handle, MemoryMarshal.AsBytes(values.AsSpan()), array.Offset + (layer ?? 0) * count * sizeof(float));
    }

    private static float[] Checked(float[] values, long expected, string what, IModelSource source)
    {
        if (values.Length != expected)
            throw new QuantNativeException($"{source.Path}: {what} has {values.Length} elements, expected {expected}");
        return values;
    }

    /// <summary>The cos/sin tables the original export stored ([seq_len, head_size/2]); kept so old readers still work.</summary>
    private static (float[] Cos, float[] Sin) RopeTables(Llama2cLayout layout, float theta)
    {
        int half = layout.HeadSize / 2;
        var cos = new float[(long)layout.SeqLen * half];
        var sin = new float[cos.Length];
        for (int pos = 0; pos < layout.SeqLen; pos++)
        for (int i = 0; i < half; i++)
        {
            double angle = pos / Math.Pow(theta, 2.0 * i / layout.HeadSize);
            cos[pos * half + i] = (float)Math.Cos(angle);
            sin[pos * half + i] = (float)Math.Sin(angle);
        }
        return (cos, sin);
    }
}
