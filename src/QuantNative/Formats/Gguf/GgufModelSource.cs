using QuantNative.Model;

namespace QuantNative.Formats.Gguf;

/// <summary>
/// A GGUF file as a model (format "gguf"): the architectures and types qn writes (llama — also for Mistral —, qwen2,
/// qwen3; F32/F16/BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K..Q6_K), read as llama.cpp runs them: q/k rows of the
/// llama architecture back to rotate-half, llama3 rope from qn's keys (checked against rope_freqs.weight), no sliding
/// window (llama.cpp's llama architecture has none). Every tensor the architecture needs is checked for presence and
/// shape on open and any other tensor is refused; a block is dequantized to fp32 when it is loaded.
/// </summary>
public sealed class GgufModelSource : IModelSource
{
    public string Path { get; }
    public string Format => "gguf";
    public LlamaConfig Config { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }
    public GgufFile File { get; }
    public string Architecture { get; }

    private GgufModelSource(string path, GgufFile file, LlamaConfig config, string arch)
    {
        (Path, File, Config, Architecture) = (path, file, config, arch);
        Tensors = file.Tensors.Select(t => new TensorInfo(t.Name, t.Type.Name(), t.Dims)).ToArray();
    }

    public static GgufModelSource Open(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            var (config, arch) = ReadConfigChecked(file);
            CheckTensors(file, config, arch);
            return new GgufModelSource(path, file, config, arch);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary><see cref="ReadConfig"/>, with a metadata integer beyond 32 bits (its checked casts) as one line.</summary>
    private static (LlamaConfig, string) ReadConfigChecked(GgufFile f)
    {
        try
        {
            return ReadConfig(f);
        }
        catch (OverflowException e)
        {
            throw new QuantNativeException($"{f.Path}: a GGUF metadata value does not fit a 32-bit integer", e);
        }
    }

    private static (LlamaConfig, string) ReadConfig(GgufFile f)
    {
        string arch = (string)f.Require("general.architecture").Value;
        if (arch is not ("llama" or "qwen2" or "qwen3"))
            throw new QuantNativeException($"{f.Path}: general.architecture {arch}: qn reads llama, qwen2 and qwen3");
        int Int(string key) => checked((int)f.Require($"{arch}.{key}").AsInteger(key));
        var embedding = f.Tensor(GgufArchitecture.TokenEmbedding);
        if (embedding.Dims.Length != 2) throw new QuantNativeException($"{f.Path}: {GgufArchitecture.TokenEmbedding} is not a matrix");
        int hidden = Int("embedding_length"), heads = Int("attention.head_count");
        int kvHeads = f.Find($"{arch}.attention.head_count_kv") is { } kv ? checked((int)kv.AsInteger("head_count_kv")) : heads;
        if (heads <= 0) throw new QuantNativeException($"{f.Path}: {arch}.attention.head_count is {heads}; expected a positive count");
        int headDim = f.Find($"{arch}.attention.key_length") is { } kl ? checked((int)kl.AsInteger("key_length")) : hidden / heads;
        int ropeDims = f.Find($"{arch}.rope.dimension_count") is { } rd ? checked((int)rd.AsInteger("rope.dimension_count")) : headDim;
        if (ropeDims != headDim)
            throw new QuantNativeException($"{f.Path}: rope.dimension_count {ropeDims} ≠ head dim {headDim}: partial rotary embeddings are not run by qn");
        if (f.Find($"{arch}.attention.value_length") is { } vl && vl.AsInteger("value_length") != headDim)
            throw new QuantNativeException($"{f.Path}: attention.value_length ≠ key_length: not a LLaMA-family attention");
        float eps = (float)f.Require($"{arch}.attention.layer_norm_rms_epsilon").AsNumber("layer_norm_rms_epsilon");
        float theta = f.Find($"{arch}.rope.freq_base") is { } fb ? (float)fb.AsNumber("freq_base") : 10000f;
        var scaling = RopeScaling.None;
        string scalingType = f.Find($"{arch}.rope.scaling.type")?.Value as string ?? "none";
        if (scalingType == "linear")
            scaling = new RopeScaling(RopeType.Linear, f.Require($"{arch}.rope.scaling.factor").AsNumber("factor"));
        else if (scalingType != "none")
            throw new QuantNativeException($"{f.Path}: rope.scaling.type {scalingType}: qn runs none and linear (and llama3 from its own keys)");
        if (f.Find(GgufArchitecture.QnRopeFactor) is { } factor)
            scaling = new RopeScaling(RopeType.Llama3, factor.AsNumber("factor"),
                f.Require(GgufArchitecture.QnRopeLow).AsNumber("low"), f.Require(GgufArchitecture.QnRopeHigh).AsNumber("high"),
                checked((int)f.Require(GgufArchitecture.QnRopeOriginal).AsInteger("original")));
        else if (f.HasTensor(GgufArchitecture.RopeFreqs))
            throw new QuantNativeException($"{f.Path}: {GgufArchitecture.RopeFreqs} without qn's llama3 keys: rope frequency factors of other origins are not read by qn");

        string modelType = f.Find(GgufArchitecture.QnModelType)?.Value as string ?? arch;
        string cls = f.Find(GgufArchitecture.QnArchitecture)?.Value as string ?? modelType switch
        {
            "qwen2" => "Qwen2ForCausalLM", "qwen3" => "Qwen3ForCausalLM", "mistral" => "MistralForCausalLM", _ => "LlamaForCausalLM",
        };
        int? bos = f.Find("tokenizer.ggml.bos_token_id") is { } b && f.Find("tokenizer.ggml.add_bos_token")?.Value is not false ? (int)b.AsInteger("bos") : null;
        var eos = f.Find("tokenizer.ggml.eos_token_id") is { } e ? new[] { (int)e.AsInteger("eos") } : [];
        var config = new LlamaConfig(hidden, Int("feed_forward_length"), Int("block_count"), heads, kvHeads,
            checked((int)embedding.Dims[1]), Int("context_length"), eps, theta, !f.HasTensor(GgufArchitecture.Output))
        {
            HeadDim = headDim,
            AttentionBias = f.HasTensor(GgufArchitecture.Extra(0, BlockExtraParts.QBias)),
            OutputBias = f.HasTensor(GgufArchitecture.Extra(0, BlockExtraParts.OBias)),
            QkNorm = f.HasTensor(GgufArchitecture.Extra(0, BlockExtraParts.QNorm)),
            // llama.cpp's llama architecture applies no sliding window, whatever attention.sliding_window says:
            // qn runs the file as llama.cpp does.
            SlidingWindow = 0,
            RopeScaling = scaling,
            Identity = new ModelIdentity(modelType, cls, bos, eos),
        };
        config.Validate(f.Path);
        if (scaling.Type == RopeType.Llama3)
        {
            var stored = f.ReadFloats(GgufArchitecture.RopeFreqs);
            var expected = GgufArchitecture.RopeFrequencyFactors(config);
            if (!stored.SequenceEqual(expected))
                throw new QuantNativeException($"{f.Path}: {GgufArchitecture.RopeFreqs} disagrees with qn's llama3 rope keys");
        }
        return (config, arch);
    }

    private static void CheckTensors(GgufFile f, LlamaConfig c, string arch)
    {
        var expected = new Dictionary<string, long[]>
        {
            [GgufArchitecture.TokenEmbedding] = [c.HiddenSize, c.VocabSize],
            [GgufArchitecture.OutputNorm] = [c.HiddenSize],
        };
        if (!c.TieWordEmbeddings) expected[GgufArchitecture.Output] = [c.HiddenSize, c.VocabSize];
        // Each block has at least its two norms and seven linears: a block count the tensors cannot make up is refused
        // before millions of expected names are built (a corrupt block_count made this hang).
        if ((long)c.NumLayers * 9 > f.Tensors.Count)
            throw new QuantNativeException($"{f.Path}: {arch}.block_count is {c.NumLayers}, but the file holds only " +
                                           $"{f.Tensors.Count} tensors");
        if (c.RopeScaling.Type == RopeType.Llama3) expected[GgufArchitecture.RopeFreqs] = [c.HeadDim / 2];
        for (int l = 0; l < c.NumLayers; l++)
        {
            expected[GgufArchitecture.AttnNorm(l)] = [c.HiddenSize];
            expected[GgufArchitecture.FfnNorm(l)] = [c.HiddenSize];
            foreach (var linear in BlockLinears.All)
            {
                var (rows, columns) = linear.Shape(c);
                expected[GgufArchitecture.Linear(l, linear.Part)] = [columns, rows];
            }
            foreach (var extra in BlockExtraParts.Of(c)) expected[GgufArchitecture.Extra(l, extra.Part)] = [extra.Length(c)];
        }
        foreach (var (name, dims) in expected)
        {
            if (!f.HasTensor(name)) throw new QuantNativeException($"{f.Path}: GGUF tensor '{name}' not found ({arch} with this configuration needs it)");
            var t = f.Tensor(name);
            if (!t.Dims.SequenceEqual(dims))
                throw new QuantNativeException($"{f.Path}: GGUF tensor '{name}' has dims [{string.Join(", ", t.Dims)}], expected [{string.Join(", ", dims)}]");
            if (dims.Length == 1 && t.Type != GgmlType.F32)
                throw new QuantNativeException($"{f.Path}: GGUF tensor '{name}' is {t.Type}; 1-D tensors are F32");
        }
        var extraTensor = f.Tensors.FirstOrDefault(t => !expected.ContainsKey(t.Name));
        if (extraTensor != null)
            throw new QuantNativeException($"{f.Path}: GGUF tensor '{extraTensor.Name}' is not part of a {arch} model with this configuration (qn does not run it)");
    }

    public float[] LoadTokenEmbedding() => File.ReadFloats(GgufArchitecture.TokenEmbedding);
    public float[] LoadFinalNorm() => File.ReadFloats(GgufArchitecture.OutputNorm);
    public float[] LoadOutput() => File.ReadFloats(Config.TieWordEmbeddings ? GgufArchitecture.TokenEmbedding : GgufArchitecture.Output);

    public LlamaBlockWeights LoadBlock(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Config.NumLayers);
        var c = Config;
        float[] W(string part)
        {
            var (_, columns) = BlockLinears.All[BlockLinears.IndexOf(part)].Shape(c);
            return GgufArchitecture.FromGgufRows(Architecture, part, File.ReadFloats(GgufArchitecture.Linear(layer, part)), c, columns);
        }
        var block = new LlamaBlockWeights
        {
            AttnNorm = File.ReadFloats(GgufArchitecture.AttnNorm(layer)),
            Wq = W(BlockLinears.Q), Wk = W(BlockLinears.K), Wv = W(BlockLinears.V), Wo = W(BlockLinears.O),
            FfnNorm = File.ReadFloats(GgufArchitecture.FfnNorm(layer)),
            WGate = W(BlockLinears.Gate), WUp = W(BlockLinears.Up), WDown = W(BlockLinears.Down),
            Extras = BlockExtraParts.Load(c, part =>
                GgufArchitecture.FromGgufRows(Architecture, part.Part, File.ReadFloats(GgufArchitecture.Extra(layer, part.Part)), c, 1)),
        };
        block.Validate(c, layer, Path);
        return block;
    }

    public void Dispose() => File.Dispose();
}
