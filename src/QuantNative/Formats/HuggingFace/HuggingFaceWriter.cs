using System.Text.Json;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;

namespace QuantNative.Formats.HuggingFace;

/// <summary>
/// Writes a model as a Transformers LLaMA checkpoint directory: config.json, then model.safetensors or
/// model-0000k-of-0000n.safetensors shards with model.safetensors.index.json. Streams one block at a time. Everything
/// is written into a hidden sibling directory that is renamed to the output only when complete, so an interrupted
/// write never leaves a directory that looks like a checkpoint.
/// </summary>
public static class HuggingFaceWriter
{
    /// <param name="source">The model (internal layout is already Transformers' layout: no conversion).</param>
    /// <param name="outDir">The directory to create; an existing one is refused unless <paramref name="overwrite"/>.</param>
    /// <param name="dtype">Storage type of every tensor (F16/BF16 round to nearest even).</param>
    /// <param name="maxShardBytes">Shard when the tensors exceed this many bytes (as Transformers' max_shard_size:
    /// a tensor larger than the limit gets a shard of its own); null writes one file.</param>
    /// <param name="extraFiles">Files (tokenizer, ...) to add to the directory before it appears.</param>
    /// <param name="progress">Called after each tensor: (tensors written, tensors in all, the tensor's name).</param>
    public static void Write(IModelSource source, string outDir, FloatDType dtype = FloatDType.F32,
                             long? maxShardBytes = null, bool overwrite = false, IEnumerable<ExtraFile>? extraFiles = null,
                             Action<long, long, string>? progress = null)
    {
        if (maxShardBytes is <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "must be positive");
        var config = source.Config;
        config.Validate(source.Path);
        var tensors = HuggingFaceNames.Expected(config);
        var shards = PlanShards(tensors, dtype, maxShardBytes);
        CheckpointDirectory.Write(outDir, overwrite, "Hugging Face", extraFiles, temp =>
        {
            using (var stream = File.Create(Path.Combine(temp, HuggingFaceConfig.FileName)))
                HuggingFaceConfig.Write(stream, config, dtype);
            WriteTensors(source, temp, tensors, shards, dtype, progress);
            if (shards.Count > 1)
                WriteIndex(Path.Combine(temp, HuggingFaceCheckpoint.IndexFileName), tensors, shards, dtype);
        });
    }

    /// <summary>A shard: its file name and the index range [First, First + Count) of the tensors it holds.</summary>
    private sealed record Shard(string FileName, int First, int Count);

    private static List<Shard> PlanShards(IReadOnlyList<HuggingFaceTensor> tensors, FloatDType dtype, long? maxShardBytes)
    {
        var ranges = new List<(int First, int Count)>();
        long bytes = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            long size = Bytes(tensors[i], dtype);
            if (ranges.Count == 0 || (maxShardBytes is long max && bytes > 0 && bytes + size > max))
            {
                ranges.Add((i, 0));
                bytes = 0;
            }
            ranges[^1] = (ranges[^1].First, ranges[^1].Count + 1);
            bytes += size;
        }
        if (ranges.Count == 1)
            return [new Shard(HuggingFaceCheckpoint.SingleFileName, 0, tensors.Count)];
        return ranges.Select((r, k) => new Shard($"model-{k + 1:D5}-of-{ranges.Count:D5}.safetensors", r.First, r.Count))
            .ToList();
    }

    private static long Bytes(HuggingFaceTensor t, FloatDType dtype) => t.Shape.Aggregate(1L, (a, b) => a * b) * dtype.ByteSize();

    /// <summary>Streams the tensors in plan order; each block is loaded once and each shard committed when full.</summary>
    private static void WriteTensors(IModelSource source, string dir, IReadOnlyList<HuggingFaceTensor> tensors,
                                     List<Shard> shards, FloatDType dtype, Action<long, long, string>? progress)
    {
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };  // Transformers requires it
        SafetensorsWriter? writer = null;
        int shard = -1, index = 0;
        try
        {
            void Emit(float[] values)
            {
                var tensor = tensors[index];
                if (writer == null || index >= shards[shard].First + shards[shard].Count)
                {
                    writer?.Commit();
                    writer?.Dispose();
                    var s = shards[++shard];
                    writer = new SafetensorsWriter(Path.Combine(dir, s.FileName),
                        tensors.Skip(s.First).Take(s.Count)
                            .Select(t => new SafetensorsTensorSpec(t.Name, dtype.SafetensorsName(), t.Shape)).ToList(),
                        metadata);
                }
                long expected = tensor.Shape.Aggregate(1L, (a, b) => a * b);
                if (values.Length != expected)
                    throw new QuantNativeException(
                        $"{source.Path}: tensor '{tensor.Name}' has {values.Length} elements, expected {expected}");
                writer.Write(tensor.Name, values);
                index++;
                progress?.Invoke(index, tensors.Count, tensor.Name);
            }

            Emit(source.LoadTokenEmbedding());
            for (int layer = 0; layer < source.Config.NumLayers; layer++)
            {
                var block = source.LoadBlock(layer);
                foreach (var (_, get) in HuggingFaceNames.BlockParts) Emit(get(block));
                foreach (var (_, extra) in block.Extras.Present()) Emit(extra);
            }
            Emit(source.LoadFinalNorm());
            if (!source.Config.TieWordEmbeddings) Emit(source.LoadOutput());
            if (index != tensors.Count)
                throw new InvalidOperationException($"wrote {index} of {tensors.Count} tensors");
            writer?.Commit();
        }
        finally
        {
            writer?.Dispose();
        }
    }

    private static void WriteIndex(string path, IReadOnlyList<HuggingFaceTensor> tensors, List<Shard> shards, FloatDType dtype)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", tensors.Sum(t => Bytes(t, dtype)));
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var shard in shards)
            for (int i = shard.First; i < shard.First + shard.Count; i++)
                json.WriteString(tensors[i].Name, shard.FileName);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
